/// The baseline of `granary bench loader`: a Python loader shaped like PyTorch's `DataLoader` with
/// `num_workers` processes — each worker reads one batch of plain files from local disk and hands
/// it back through a multiprocessing pool (pickled over a pipe, as DataLoader's worker queues do),
/// batches kept in order. It reads exactly the paths it is given, in the order given (the same
/// shuffled order Granary's loader reads), and prints one JSON line.
enum PythonLoaderBaseline {
    static let script = #"""
import json, os, signal, sys, time
from multiprocessing import Pool

def read_batch(paths):
    out = []
    for p in paths:
        with open(p, "rb") as f:
            out.append(f.read())
    return out

def main():
    # The parent (granary) blocks signals for its own signal handling, and a spawned process
    # inherits the mask: unblock them, or the pool's workers could not be stopped.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    order_file, workers, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(order_file) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    pool = Pool(workers)
    pool.map(abs, range(workers))  # start the workers before timing, as DataLoader's persistent workers are
    start = time.perf_counter()
    samples = nbytes = 0
    for b in pool.imap(read_batch, batches, chunksize=1):
        samples += len(b)
        nbytes += sum(len(x) for x in b)
    seconds = time.perf_counter() - start
    pool.close()  # workers finish and exit on their own (terminate() would signal them)
    pool.join()
    print(json.dumps({"samples": samples, "bytes": nbytes, "seconds": seconds, "workers": workers,
                      "samplesPerSecond": samples / seconds, "MBps": nbytes / seconds / 1e6}))

if __name__ == "__main__":
    main()
"""#
}
