import Synchronization

/// The batches of one epoch as an `AsyncSequence`. Iterating starts the reads; leaving the loop
/// early stops them and releases their buffers.
public struct EpochBatches<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = LoaderError
    let loader: Loader<Element>
    public let epoch: Int
    /// The first batch delivered (after a resume, the first not yet delivered).
    public let startBatch: Int

    public func makeAsyncIterator() -> Iterator { Iterator(run: Run(loader: loader, epoch: epoch, startBatch: startBatch)) }

    public struct Iterator: AsyncIteratorProtocol {
        let run: Run

        public mutating func next() async throws(LoaderError) -> Batch<Element>? {
            try await run.next()
        }
    }

    /// One iteration's producer and hand-off; cancels the producer when the iterator goes.
    public final class Run: Sendable {
        let loader: Loader<Element>
        let epoch: Int
        let startBatch: Int
        let channel = BatchChannel<Batch<Element>>()
        let task = Mutex<Task<Void, Never>?>(nil)
        let finished = Mutex(false)

        init(loader: Loader<Element>, epoch: Int, startBatch: Int) {
            self.loader = loader
            self.epoch = epoch
            self.startBatch = startBatch
        }

        deinit {
            channel.cancel()
            task.withLock { $0?.cancel() }
        }

        func next() async throws(LoaderError) -> Batch<Element>? {
            if finished.withLock({ $0 }) { return nil }
            task.withLock { t in
                guard t == nil else { return }
                let loader = self.loader, epoch = self.epoch, start = self.startBatch, channel = self.channel
                t = Task { await loader.produce(loader.plan(epoch: epoch), from: start, into: channel) }
            }
            switch await channel.receive() {
            case let .success(batch)?:
                loader.delivered(epoch: epoch, batch: batch.index)
                return batch
            case let .failure(e)?:
                finished.withLock { $0 = true }
                throw e
            case nil:
                finished.withLock { $0 = true }
                loader.delivered(epoch: epoch, batch: nil)
                return nil
            }
        }
    }
}
