import Foundation
import Synchronization
import Testing
@testable import GranaryBuffers

/// A registrar that records what it was asked, for checking that registration happens once per
/// arena (never per buffer), is undone once when the pool goes, and that a refusal fails cleanly.
final class CountingRegistrar: ArenaRegistrar {
    let name: String
    let refuse: Bool
    let log = Mutex<(registered: [Int], deregistered: [Int])>(([], []))

    init(name: String = "count", refuse: Bool = false) {
        self.name = name
        self.refuse = refuse
    }

    struct Registration: ArenaRegistration {
        let registrar: String
        let key: Int
        let owner: CountingRegistrar
        func deregister() { owner.log.withLock { $0.deregistered.append(key) } }
    }

    func register(_ base: UnsafeMutableRawPointer, bytes: Int) throws(BufferError) -> any ArenaRegistration {
        if refuse { throw .registrationFailed(registrar: name, reason: "refused by the test") }
        let key = Int(bitPattern: base)
        log.withLock { $0.registered.append(key) }
        return Registration(registrar: name, key: key, owner: self)
    }
}

@Suite struct RegistrationTests {
    @Test func eachArenaIsRegisteredOnceAndDeregisteredWhenThePoolGoes() async throws {
        let registrar = CountingRegistrar()
        do {
            let pool = try IOBufferPool(.init(arenaBytes: 1 << 20, limitBytes: 4 << 20, lockMemory: false), registrars: [registrar],
                                        logger: TestSupport.quiet)
            var held: [IOBuffer] = []
            for _ in 0..<16 { held.append(try await pool.take(64 << 10)) }
            #expect(registrar.log.withLock { $0.registered.count } == 1)
            held.append(try await pool.take(64 << 10))
            #expect(registrar.log.withLock { $0.registered.count } == 2)
            #expect(pool.stats.registeredBytes == ["count": 2 << 20])
            // Every buffer carries its own arena's registration.
            let keys = held.compactMap { ($0.registration("count") as? CountingRegistrar.Registration)?.key }
            #expect(keys.count == held.count)
            #expect(Set(keys).count == 2)
            for b in held {
                let key = (b.registration("count") as? CountingRegistrar.Registration)?.key ?? -1
                #expect(Int(bitPattern: b.bytes.baseAddress) >= key && Int(bitPattern: b.bytes.baseAddress) < key + (1 << 20))
            }
            #expect(held[0].registration("rdma") == nil)
            // Releasing and taking again reuses the registered arenas.
            held.removeAll()
            for _ in 0..<32 { held.append(try await pool.take(64 << 10)) }
            #expect(registrar.log.withLock { $0.registered.count } == 2)
            #expect(registrar.log.withLock { $0.deregistered.isEmpty })
        }
        let log = registrar.log.withLock { $0 }
        #expect(log.deregistered.sorted() == log.registered.sorted())
    }

    @Test func aRefusedRegistrationFailsTheTakeAndHoldsNothing() async throws {
        let good = CountingRegistrar(name: "good"), bad = CountingRegistrar(name: "bad", refuse: true)
        let pool = try IOBufferPool(.init(arenaBytes: 1 << 20, limitBytes: 1 << 20, lockMemory: false), registrars: [good, bad],
                                    logger: TestSupport.quiet)
        for _ in 0..<2 {
            await #expect(throws: BufferError.registrationFailed(registrar: "bad", reason: "refused by the test")) {
                _ = try await pool.take(4096)
            }
            // The registration that did succeed was undone, and the pool mapped nothing.
            #expect(good.log.withLock { $0.registered.count == $0.deregistered.count })
            #expect(pool.stats.mappedBytes == 0)
            #expect(pool.stats.inUseBuffers == 0)
        }
        #expect(throws: BufferError.self) { _ = try pool.tryTake(4096) }
    }

    /// Without CUDA (as on this machine unless a GPU is lent) the registrar says why; with libcudart
    /// but no driver (PyPI's nvidia-cuda-runtime-cu12 on this machine) the arena is refused by
    /// name; with a GPU, an arena is pinned and counted.
    @Test func cudaRegistrarLoadsOnlyWhereLibcudartIs() async throws {
        switch CUDAHostRegistrar.load() {
        case .failure(let error):
            #expect(error.description.contains("libcudart"))
        case .success(let cuda):
            let pool = try IOBufferPool(.init(arenaBytes: 1 << 20, limitBytes: 1 << 20, lockMemory: false), registrars: [cuda],
                                        logger: TestSupport.quiet)
            if case .success(let devices) = CUDARuntime.load().flatMap({ $0.deviceCount() }), devices > 0 {
                let b = try await pool.take(4096)
                #expect(b.registration("cuda") != nil)
                #expect(pool.stats.registeredBytes["cuda"] == 1 << 20)
            } else {
                // libcudart without a driver or a device: the arena is refused, naming CUDA's call.
                await #expect {
                    _ = try await pool.take(4096)
                } throws: { e in
                    guard case let .registrationFailed(registrar, reason) = e as? BufferError else { return false }
                    return registrar == "cuda" && reason.contains("cudaHostRegister")
                }
                #expect(pool.stats.arenas == 0)
            }
        }
    }

    /// The runtime for the pinned benchmark: without libcudart it says so; with it but no device
    /// (a driver-less machine), the failing call is named; with a device, a round trip through
    /// device memory brings the bytes back.
    @Test func cudaRuntimeCopiesWhereADeviceIsAndSaysWhyElsewhere() throws {
        switch CUDARuntime.load() {
        case .failure(let error):
            #expect(error.description.contains("libcudart"))
        case .success(let cuda):
            switch cuda.deviceCount() {
            case .failure(let error):
                #expect(error.description.contains("cudaGetDeviceCount"))
            case .success(let n) where n == 0:
                break
            case .success:
                let host = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
                defer { host.deallocate() }
                for i in 0..<4096 { host[i] = UInt8(truncatingIfNeeded: i * 7) }
                let back = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
                defer { back.deallocate() }
                let device = try cuda.allocate(4096).get()
                defer { cuda.free(device) }
                try cuda.copy(to: device, from: UnsafeRawPointer(try #require(host.baseAddress)), bytes: 4096, .hostToDevice).get()
                try cuda.copy(to: try #require(back.baseAddress), from: UnsafeRawPointer(device), bytes: 4096, .deviceToHost).get()
                #expect(Array(back) == Array(host))
            }
        }
    }
}

@Suite struct HugePageTests {
    /// Asked for huge pages, the pool uses them where the system has some reserved and ordinary
    /// pages otherwise — either way the buffers work, and the stats say which.
    @Test func hugePagesFallBackToOrdinaryPages() async throws {
        let pool = try IOBufferPool(.init(arenaBytes: 2 << 20, limitBytes: 4 << 20, lockMemory: false, hugePages: true),
                                    logger: TestSupport.quiet)
        let b = try await pool.take(1 << 20)
        b.bytes.initializeMemory(as: UInt8.self, repeating: 7)
        #expect(b.bytes.allSatisfy { $0 == 7 })
        let reserved = (try? String(contentsOfFile: "/proc/sys/vm/nr_hugepages", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if reserved == 0 { #expect(pool.stats.hugePageArenas == 0) }
        #expect(pool.stats.arenas == 1)
    }
}
