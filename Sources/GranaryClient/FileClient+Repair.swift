import GranaryCore
import GranaryErasure
import GranaryMeta

extension FileClient {
    /// New fragments written for a stripe, and the record that names them. Nothing is committed:
    /// the caller installs `stripe` (compare-and-swap on the version it read) and only then deletes
    /// `obsolete`, so the stripe is readable from committed chunks at every moment.
    public struct Rewrite: Sendable {
        /// The stripe's next record: version one higher, the new placements.
        public var stripe: Stripe
        /// The placements `stripe` no longer names: delete them after the commit.
        public var obsolete: [FragmentPlacement]
        /// Fragment bytes read to decode, and written.
        public var bytesRead: Int
        public var bytesWritten: Int
    }

    /// Rebuilds fragments `indices` of `s` at its own layout from the others and writes them under
    /// a new generation to drives that hold no other fragment of the stripe (on other nodes when
    /// the cluster has them), never to one of `avoiding`. The rebuilt fragments are byte-identical
    /// to the lost ones: the codec is deterministic, and the decoded data is re-encoded.
    public func rebuildFragments(_ s: Stripe, indices: Set<Int>, avoiding: Set<DriveID>, map: ClusterMap) async throws(ClientError) -> Rewrite {
        let label = "repair"
        var skip: [Int: String] = [:]
        for i in indices { skip[i] = "being rebuilt" }
        let data = try await decodeStripe(s, skipping: skip, file: label, map: map)
        let encoded: EncodedStripe
        let c = try codec(s.layout)
        do { encoded = try c.encode(data) } catch { throw .codec(error) }
        guard encoded.fragmentLength == s.fragmentLength else {
            throw .stripeWriteFailed(file: label, stripe: s.id,
                                     reason: "re-encoding gave \(encoded.fragmentLength)-byte fragments where the stripe has \(s.fragmentLength)")
        }
        let generation = s.version + 1
        let kept = s.fragments.filter { !indices.contains($0.index) }
        let placed = try await storeFragments(encoded, stripe: s.id, indices: indices.sorted(), generation: generation, kept: kept,
                                              excluding: avoiding, file: label, map: map)
        var next = s
        next.version = generation
        for p in placed { next.fragments[p.index] = p }
        return Rewrite(stripe: next, obsolete: s.fragments.filter { indices.contains($0.index) },
                       bytesRead: s.fragmentLength * s.layout.k, bytesWritten: s.fragmentLength * placed.count)
    }

    /// Re-encodes `s` as `layout` (narrower to shrink, its wide layout to expand), every fragment
    /// under a new generation on drives `Placement` picks, never one of `avoiding`. `wide` is what
    /// the new record remembers to expand back to (`nil` once the stripe is at full width again).
    public func reencodeStripe(_ s: Stripe, as layout: StripeLayout, wide: StripeLayout?, avoiding: Set<DriveID>,
                               map: ClusterMap) async throws(ClientError) -> Rewrite {
        let label = "repair"
        var skip: [Int: String] = [:]
        for p in s.fragments where avoiding.contains(p.drive) { skip[p.index] = "its drive \(p.drive) is being retired" }
        let data = try await decodeStripe(s, skipping: skip, file: label, map: map)
        let encoded: EncodedStripe
        let c = try codec(layout)
        do { encoded = try c.encode(data) } catch { throw .codec(error) }
        let generation = s.version + 1
        let placed = try await storeFragments(encoded, stripe: s.id, indices: Array(0..<layout.width), generation: generation,
                                              kept: [], excluding: avoiding, file: label, map: map)
        let next = Stripe(id: s.id, layout: layout, version: generation, dataLength: s.dataLength,
                          fragmentLength: encoded.fragmentLength, headerLength: ErasureCodec.fragmentHeaderSize,
                          fragments: placed, wideLayout: wide)
        return Rewrite(stripe: next, obsolete: s.fragments, bytesRead: s.fragmentLength * s.layout.k,
                       bytesWritten: encoded.fragmentLength * layout.width)
    }

    /// The layout a stripe of `dataLength` bytes gets when it is shrunk to `k` data fragments:
    /// `wide`'s m and backend, fragments large enough to hold the data (rounded up to 4 KiB).
    public static func shrunkLayout(_ wide: StripeLayout, k: Int, dataLength: Int) -> StripeLayout {
        let per = (max(dataLength, 1) + k - 1) / k
        let size = min(max((per + 4095) / 4096 * 4096, 4096), StripeLayout.fragmentSizes.upperBound)
        return StripeLayout(k: k, m: wide.m, fragmentSize: size, backend: wide.backend)
    }

    /// Reads every fragment of `s` whole — the storage node checks each chunk's checksums before
    /// it answers — and returns those that could not be read or have the wrong length, with why.
    public func verifyStripe(_ s: Stripe, map: ClusterMap) async -> [Int: String] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for p in s.fragments {
                guard let (address, usable) = endpoint(p.drive, in: map), usable else {
                    group.addTask { (p.index, "\(p.drive) is down or not in the cluster map") }
                    continue
                }
                group.addTask {
                    do throws(ClientError) {
                        let bytes = try await self.storage.get(address, drive: p.drive.name, key: p.key(stripe: s.id),
                                                               timeoutMs: self.settings.fragmentTimeoutMs)
                        if bytes.count != s.fragmentLength {
                            return (p.index, "\(p.drive): \(bytes.count) bytes where \(s.fragmentLength) were written")
                        }
                        return (p.index, nil)
                    } catch { return (p.index, "\(p.drive): \(error)") }
                }
            }
            var bad: [Int: String] = [:]
            for await (i, cause) in group { if let cause { bad[i] = cause } }
            return bad
        }
    }

    /// Deletes the chunks of `placements` (fragments of stripe `stripe`) from drives that are up;
    /// returns the ones that could not be deleted now (down drive, error) — the chunk scan of
    /// garbage collection finds those later.
    public func deleteFragments(stripe: UInt64, _ placements: [FragmentPlacement], map: ClusterMap) async -> [FragmentPlacement] {
        await withTaskGroup(of: FragmentPlacement?.self) { group in
            for p in placements {
                guard let (address, usable) = endpoint(p.drive, in: map), usable else {
                    group.addTask { p }
                    continue
                }
                group.addTask {
                    do throws(ClientError) {
                        try await self.storage.delete(address, drive: p.drive.name, key: p.key(stripe: stripe),
                                                      timeoutMs: self.settings.fragmentTimeoutMs)
                        return nil
                    } catch {
                        if case let .transport(t) = error, t.remoteError?.code == .notFound { return nil }
                        return p
                    }
                }
            }
            var left: [FragmentPlacement] = []
            for await p in group { if let p { left.append(p) } }
            return left
        }
    }
}
