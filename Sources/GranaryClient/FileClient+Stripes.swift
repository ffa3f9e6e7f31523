import GranaryCore
import GranaryErasure
import GranaryMeta
import GranaryTransport
import Logging

/// A slice of a caller's buffer handed to one child task.
///
/// `@unchecked Sendable` is safe: the slices a read hands out never overlap, each is written by
/// exactly one child task, and the parent reads the buffer only after every child has finished.
struct BufferSlice: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
}

extension FileClient {
    // MARK: Writing a stripe

    /// Encodes `data` as stripe `id` in `layout`, writes its k + m fragments to distinct drives in
    /// parallel and returns the record to commit. A fragment whose drive refuses or does not
    /// answer is placed on another drive (twice at most); the stripe is written at full width or
    /// not at all (`stripeWriteFailed` names the file and the causes).
    func writeStripe(id: UInt64, layout: StripeLayout, data: UnsafeRawBufferPointer, file: String) async throws(ClientError) -> Stripe {
        let codec = try codec(layout)
        let encoded: EncodedStripe
        do { encoded = try codec.encode(data) } catch { throw .codec(error) }
        let placements = try await storeFragments(encoded, stripe: id, indices: Array(0..<layout.width), generation: 1, kept: [],
                                                  excluding: [], file: file)
        return Stripe(id: id, layout: layout, dataLength: data.count, fragmentLength: encoded.fragmentLength,
                      headerLength: ErasureCodec.fragmentHeaderSize, fragments: placements)
    }

    /// Places the fragments `indices` of `encoded` on drives `Placement` picks — never one of
    /// `excluding` or a drive holding a `kept` fragment, preferably not a node holding one — and
    /// writes them in parallel under `generation`'s keys. A fragment whose drive refuses or does
    /// not answer is placed on another drive (twice at most). Returns the placements of `indices`,
    /// in order, or throws `stripeWriteFailed` naming `file`, the stripe and every cause, after
    /// deleting the fragments that did land. `map` is the cluster map to place with first
    /// (default: the client's cached one).
    func storeFragments(_ encoded: EncodedStripe, stripe id: UInt64, indices: [Int], generation: UInt32, kept: [FragmentPlacement],
                        excluding: Set<DriveID>, file: String, map given: ClusterMap? = nil) async throws(ClientError) -> [FragmentPlacement] {
        var map: ClusterMap
        if let given { map = given } else { map = try await clusterMap() }
        var refused = excluding.union(kept.map(\.drive))
        var placed: [Int: DriveID] = [:]
        var pending = indices
        var causes: [String] = []
        for attempt in 0..<3 {
            let keptNodes = Set(kept.map(\.drive.node)).union(placed.values.map(\.node))
            let drives: [DriveID]
            do {
                drives = try Placement.choose(stripe: id, width: pending.count, in: map, excluding: refused.union(placed.values),
                                              avoidingNodes: keptNodes)
            } catch {
                causes.append(error.description)
                break
            }
            let tried = zip(pending, drives).map { FragmentPlacement(index: $0, drive: $1, generation: generation) }
            let failures = await putFragments(encoded, stripe: id, placements: tried, map: map)
            let failed = Set(failures.map(\.index))
            for p in tried where !failed.contains(p.index) { placed[p.index] = p.drive }
            if failures.isEmpty {
                return indices.compactMap { i in placed[i].map { FragmentPlacement(index: i, drive: $0, generation: generation) } }
            }
            for f in failures {
                guard let drive = tried.first(where: { $0.index == f.index })?.drive else { continue }
                refused.insert(drive)
                causes.append("fragment \(f.index) on \(drive): \(f.cause)")
                logger.warning("\(file): stripe \(String(id, radix: 16)) fragment \(f.index) could not be written to \(drive): \(f.cause); placing it elsewhere")
            }
            pending = failures.map(\.index)
            if attempt < 2 { map = try await clusterMap(fresh: true) }
        }
        // Take back what did land, so a failed write leaves nothing behind when the drives answer
        // (garbage collection removes the rest).
        let landed = placed.map { FragmentPlacement(index: $0.key, drive: $0.value, generation: generation) }
        _ = await deleteFragments(stripe: id, landed, map: map)
        throw .stripeWriteFailed(file: file, stripe: id, reason: causes.joined(separator: "; "))
    }

    /// Writes the fragments of `encoded` named by `placements` (each to its drive, under its
    /// generation's key) in parallel; returns the ones that failed, with their causes.
    func putFragments(_ encoded: EncodedStripe, stripe: UInt64, placements: [FragmentPlacement], map: ClusterMap) async -> [(index: Int, cause: String)] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for p in placements {
                guard let (address, _) = endpoint(p.drive, in: map) else {
                    group.addTask { (p.index, "drive \(p.drive) is not in the cluster map") }
                    continue
                }
                group.addTask {
                    do throws(ClientError) {
                        try await self.storage.put(address, drive: p.drive.name, key: p.key(stripe: stripe),
                                                   data: encoded.fragment(p.index), timeoutMs: self.settings.fragmentTimeoutMs)
                        return (p.index, nil)
                    } catch { return (p.index, error.description) }
                }
            }
            var failures: [(index: Int, cause: String)] = []
            for await (index, cause) in group { if let cause { failures.append((index, cause)) } }
            return failures.sorted { $0.index < $1.index }
        }
    }

    // MARK: Reading a stripe

    /// Reads the stripe's data bytes `range` into `out` (exactly `range.count` bytes). Straight from
    /// the data fragments that hold them when all answer correctly within `hedgeAfterMs`; otherwise
    /// from any k fragments, decoded.
    func readStripe(_ s: Stripe, range: Range<Int>, into out: UnsafeMutableRawBufferPointer, file: String, map: ClusterMap) async throws(ClientError) {
        guard range.lowerBound >= 0, range.upperBound <= s.dataLength, out.count == range.count else {
            throw .stripeUnreadable(file: file, stripe: s.id, readable: 0, needed: s.layout.k,
                                    causes: ["range \(range) outside the stripe's \(s.dataLength) data bytes"])
        }
        if range.isEmpty { return }
        let block = s.blockSize
        var pieces: [(index: Int, offset: Int, slice: BufferSlice)] = []
        var i = range.lowerBound / block
        while i * block < range.upperBound {
            let lo = max(range.lowerBound, i * block), hi = min(range.upperBound, (i + 1) * block)
            let slice = UnsafeMutableRawBufferPointer(rebasing: out[(lo - range.lowerBound)..<(hi - range.lowerBound)])
            pieces.append((i, s.headerLength + lo - i * block, BufferSlice(buffer: slice)))
            i += 1
        }
        // Pieces on drives the health monitor flagged are decoded from the other fragments (a slow
        // drive would hold up every read that waits for it); only when too few others answer are
        // they read after all.
        let avoided = pieces.filter { avoids(s.fragments[$0.index].drive, in: map) }.map(\.index)
        if !avoided.isEmpty, s.fragments.count - avoided.count >= s.layout.k {
            let skipping = Dictionary(uniqueKeysWithValues: avoided.map { ($0, "\(s.fragments[$0].drive) is \(map.drive(s.fragments[$0].drive)?.health.rawValue ?? "avoided")") })
            if let data = try? await decodeStripe(s, skipping: skipping, file: file, map: map, avoiding: true) {
                counters.withLock { $0.avoidedReads += 1 }
                data.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
                noteCopy(range.count)
                return
            }
        }
        let failures = await withTaskGroup(of: (Int, String?).self) { group in
            for p in pieces {
                let placement = s.fragments[p.index]
                guard let (address, usable) = endpoint(placement.drive, in: map), usable else {
                    group.addTask { (p.index, "\(placement.drive) is down or not in the cluster map") }
                    continue
                }
                group.addTask {
                    do throws(ClientError) {
                        try await self.storage.read(address, drive: placement.drive.name, key: s.key(p.index), offset: p.offset,
                                                    into: p.slice.buffer, timeoutMs: self.settings.hedgeAfterMs)
                        return (p.index, nil)
                    } catch { return (p.index, "\(placement.drive): \(error)") }
                }
            }
            var failures: [Int: String] = [:]
            for await (index, cause) in group { if let cause { failures[index] = cause } }
            return failures
        }
        if failures.isEmpty { return }
        counters.withLock { c in
            c.degradedReads += 1
            for (index, cause) in failures.sorted(by: { $0.key < $1.key }) where c.fragmentFailures.count < 1000 {
                c.fragmentFailures.append("\(file): stripe \(String(s.id, radix: 16)) fragment \(index): \(cause)")
            }
        }
        for (index, cause) in failures.sorted(by: { $0.key < $1.key }) {
            logger.warning("\(file): stripe \(String(s.id, radix: 16)) fragment \(index) unreadable, decoding from parity: \(cause)")
        }
        let data = try await decodeStripe(s, skipping: failures, file: file, map: map)
        data.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[range])) }
        noteCopy(range.count)
    }

    /// The stripe's whole data, decoded from any k of its fragments other than those in `skipping`.
    /// With `avoiding`, fragments on drives the health monitor flagged are left out as well, and
    /// only the first k other fragments are fetched (they are expected to answer promptly).
    func decodeStripe(_ s: Stripe, skipping: [Int: String], file: String, map: ClusterMap, avoiding: Bool = false) async throws(ClientError) -> [UInt8] {
        var causes = skipping.sorted { $0.key < $1.key }.map { "fragment \($0.key): \($0.value)" }
        var candidates = s.fragments.filter { skipping[$0.index] == nil }
        if avoiding {
            candidates = candidates.filter { !avoids($0.drive, in: map) && (endpoint($0.drive, in: map)?.usable ?? false) }
            guard candidates.count >= s.layout.k else {
                throw .stripeUnreadable(file: file, stripe: s.id, readable: candidates.count, needed: s.layout.k, causes: causes)
            }
            candidates = Array(candidates.prefix(s.layout.k))
        }
        let results = await withTaskGroup(of: (Int, Result<[UInt8], ClientError>).self) { group in
            for placement in candidates {
                guard let (address, usable) = endpoint(placement.drive, in: map), usable else {
                    group.addTask { (placement.index, .failure(.unknownDrive(placement.drive))) }
                    continue
                }
                group.addTask {
                    do throws(ClientError) {
                        let bytes = try await self.storage.get(address, drive: placement.drive.name, key: s.key(placement.index),
                                                               timeoutMs: self.settings.fragmentTimeoutMs)
                        return (placement.index, .success(bytes))
                    } catch { return (placement.index, .failure(error)) }
                }
            }
            var all: [(Int, Result<[UInt8], ClientError>)] = []
            for await r in group { all.append(r) }
            return all.sorted { $0.0 < $1.0 }
        }
        var fragments: [[UInt8]] = []
        for (index, r) in results {
            switch r {
            case let .success(bytes) where bytes.count == s.fragmentLength: fragments.append(bytes)
            case let .success(bytes): causes.append("fragment \(index): \(bytes.count) bytes where \(s.fragmentLength) were written")
            case let .failure(e): causes.append("fragment \(index) on \(s.fragments[index].drive): \(e)")
            }
        }
        guard fragments.count >= s.layout.k else {
            throw .stripeUnreadable(file: file, stripe: s.id, readable: fragments.count, needed: s.layout.k, causes: causes)
        }
        do {
            let data = try codec(s.layout).decode(Array(fragments.prefix(s.layout.k)))
            guard data.count == s.dataLength else {
                throw ClientError.stripeUnreadable(file: file, stripe: s.id, readable: fragments.count, needed: s.layout.k,
                                                   causes: ["decoded \(data.count) bytes where the stripe holds \(s.dataLength)"])
            }
            return data
        } catch let e as ClientError { throw e } catch let e as ErasureError {
            throw .stripeUnreadable(file: file, stripe: s.id, readable: fragments.count, needed: s.layout.k, causes: causes + ["decode: \(e)"])
        } catch {
            throw .stripeUnreadable(file: file, stripe: s.id, readable: fragments.count, needed: s.layout.k, causes: causes + ["\(error)"])
        }
    }
}
