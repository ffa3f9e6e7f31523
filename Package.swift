// swift-tools-version:6.1
// Granary: a parallel file system client and cache for AI training data.
//
// Module layering (arrows point down only; see docs/ARCHITECTURE.md):
//   granaryd -> GranaryMetrics (Prometheus endpoint) -> GranaryTransport; every module records through the swift-metrics API only;
//   granary, granaryd -> GranaryManager -> GranaryHealth (pure), GranaryClient -> GranaryMeta, GranaryErasure, GranaryTransport, GranaryPrefetch, GranaryBuffers;
//   granary, examples -> GranaryLoader, GranaryFUSE -> GranaryClient; GranaryLoader -> GranaryBuffers -> (swift-log)
//   GranaryStorage -> GranaryTransport -> GranaryBuffers (RDMA registers pool arenas)
//   -> GranaryWire -> GranaryCore -> CISAL
// Each C library is wrapped by exactly one Swift module:
//   CISAL -> GranaryCore, CErasureCode -> GranaryErasure, CVerbs -> GranaryTransport, CFuse3 -> GranaryFUSE.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Granary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "granary", targets: ["granary"]),
        .executable(name: "granaryd", targets: ["granaryd"]),
        .library(name: "GranaryCore", targets: ["GranaryCore"]),
        .library(name: "GranaryTransport", targets: ["GranaryTransport"]),
        .library(name: "GranaryLoader", targets: ["GranaryLoader"]),
        .library(name: "GranaryBuffers", targets: ["GranaryBuffers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        // MARK: C libraries (module map + shim header each)
        .systemLibrary(name: "CISAL", path: "Sources/CISAL", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CErasureCode", path: "Sources/CErasureCode", providers: [.apt(["liberasurecode-dev"])]),
        .systemLibrary(name: "CFuse3", path: "Sources/CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .systemLibrary(name: "CVerbs", path: "Sources/CVerbs", providers: [.apt(["librdmacm-dev", "libibverbs-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // MARK: Library modules
        .target(name: "GranaryCore", dependencies: [
            "CISAL",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "TOMLKit", package: "TOMLKit"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryWire", dependencies: ["GranaryCore"], swiftSettings: swiftSettings),
        .target(name: "GranaryTransport", dependencies: [
            "GranaryWire", "GranaryCore", "GranaryBuffers", "CVerbs", "COpenSSL",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryErasure", dependencies: [
            "GranaryCore", "CErasureCode",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        // Drive health: the fail-slow detector (peer comparison of latency against load) and the
        // failure predictor (SMART history, Backblaze CSV). Pure computation, no I/O of its own.
        // Optimized even in debug builds: its simulations (the detector's tests, `granary bench
        // health`) run minutes unoptimized, and as synchronous tests they held the test runner's
        // threads long enough to starve the transport tests' requests past their timeouts.
        .target(name: "GranaryHealth", swiftSettings: swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "GranaryBuffers", dependencies: [
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryPrefetch", dependencies: [
            .product(name: "HeapModule", package: "swift-collections"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryLoader", dependencies: [
            "GranaryCore", "GranaryMeta", "GranaryClient", "GranaryBuffers",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryFUSE", dependencies: [
            "GranaryCore", "GranaryMeta", "GranaryClient", "CFuse3",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryMeta", dependencies: [
            "GranaryCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            // The PostgreSQL engine's client and its event loops; implementation details of
            // GranaryMeta, never in its API.
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryStorage", dependencies: [
            "GranaryCore", "GranaryWire", "GranaryTransport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: swiftSettings),
        // Metrics: the Prometheus backend for swift-metrics and the HTTP endpoint that serves it.
        // Other modules record through the swift-metrics API only (no-ops until a process installs this).
        .target(name: "GranaryMetrics", dependencies: [
            "GranaryCore", "GranaryTransport",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryClient", dependencies: [
            "GranaryCore", "GranaryWire", "GranaryTransport", "GranaryMeta", "GranaryErasure", "GranaryPrefetch", "GranaryBuffers",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: swiftSettings),
        .target(name: "GranaryManager", dependencies: [
            "GranaryCore", "GranaryWire", "GranaryTransport", "GranaryMeta", "GranaryClient", "GranaryHealth",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: swiftSettings),

        // MARK: Executables
        .executableTarget(name: "granaryd", dependencies: [
            "GranaryCore", "GranaryTransport", "GranaryStorage", "GranaryManager", "GranaryMetrics",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "daemon", swiftSettings: swiftSettings),
        .executableTarget(name: "granary", dependencies: [
            "GranaryCore", "GranaryWire", "GranaryTransport", "GranaryStorage", "GranaryManager", "GranaryMetrics",
            "GranaryClient", "GranaryErasure", "GranaryFUSE", "GranaryLoader", "GranaryBuffers", "GranaryPrefetch", "GranaryHealth", "GranaryTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),

        // The checks every transport passes (run over TCP by the unit tests, over soft-RoCE by
        // granary-rdma-check in ops/rdma-vm-test).
        .target(name: "GranaryTransportConformance", dependencies: [
            "GranaryTransport", "GranaryWire", "GranaryCore", "GranaryBuffers",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        // Runs in the soft-RoCE guest: the conformance checks over RDMA, a storage node over RDMA
        // killed mid-read and restarted, the loader over an RDMA cluster, and the zero-copy figures.
        .executableTarget(name: "granary-rdma-check", dependencies: [
            "GranaryTransportConformance", "GranaryTransport", "GranaryStorage", "GranaryManager", "GranaryLoader", "GranaryClient",
            "GranaryWire", "GranaryCore", "GranaryBuffers",
            .product(name: "Logging", package: "swift-log"),
        ], path: "ops/rdma-check", swiftSettings: swiftSettings),

        // Regenerates Sources/GranaryHealth/DefaultFailureModel.swift (the shipped failure model,
        // trained on synthetic data) and compares model families: `swift run -c release health-train-default`.
        .executableTarget(name: "health-train-default", dependencies: ["GranaryHealth"], path: "ops/health-train-default",
                          swiftSettings: swiftSettings),

        // Fuzz targets (issue 10, docs/OPERATIONS.md "Fuzzing"): the wire decoder and the config
        // parser. `ops/fuzz/run` builds them in .build/fuzz with `-sanitize=fuzzer,address -D
        // GRANARY_FUZZING`, where their entry point starts libFuzzer's driver; in the ordinary build
        // their `main` replays input files instead, so `swift build` links them without libFuzzer.
        .executableTarget(name: "granary-fuzz-wire", dependencies: ["GranaryWire", "GranaryCore"], path: "ops/fuzz/WireFuzz",
                          swiftSettings: swiftSettings),
        .executableTarget(name: "granary-fuzz-config", dependencies: ["GranaryCore"], path: "ops/fuzz/ConfigFuzz",
                          swiftSettings: swiftSettings),

        // The docs/LOADER.md example: streams one epoch of a dataset and prints samples/s.
        .executableTarget(name: "granary-loader-example", dependencies: [
            "GranaryLoader", "GranaryClient", "GranaryBuffers", "GranaryCore", "GranaryTransport",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Examples/LoaderExample", swiftSettings: swiftSettings),

        // MARK: Tests (one target per module, plus integration tests that start real processes)
        // The fuzz targets' checks run on the kept fuzz inputs (ops/fuzz/regressions) as tests.
        .testTarget(name: "GranaryCoreTests", dependencies: ["GranaryCore", "granary-fuzz-config"]),
        .testTarget(name: "GranaryWireTests", dependencies: ["GranaryWire", "GranaryCore", "granary-fuzz-wire"]),
        .testTarget(name: "GranaryTransportTests", dependencies: ["GranaryTransport", "GranaryTransportConformance", "GranaryWire", "GranaryCore", "GranaryTestSupport"]),
        // The conformance suite runs against both engines; PostgresNIO sets up the PostgreSQL side
        // (databases per test, schemas by hand) around the store under test.
        // Throwaway servers for tests and benchmarks: a PostgreSQL server per process (the test targets,
        // and `granary bench meta` when no --postgres URL is given).
        .target(name: "GranaryTestSupport", dependencies: [
            "GranaryCore", "GranaryTransport", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/GranaryTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "GranaryMetaTests", dependencies: [
            "GranaryMeta", "GranaryCore", "GranaryTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "GranaryStorageTests", dependencies: ["GranaryStorage", "GranaryTransport", "GranaryWire", "GranaryCore"]),
        .testTarget(name: "GranaryErasureTests", dependencies: ["GranaryErasure", "GranaryCore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "GranaryClientTests", dependencies: ["GranaryClient", "GranaryStorage", "GranaryTransport", "GranaryWire", "GranaryCore", "GranaryMeta", "GranaryManager", "GranaryErasure"]),
        .testTarget(name: "GranaryHealthTests", dependencies: ["GranaryHealth"]),
        .testTarget(name: "GranaryManagerTests", dependencies: ["GranaryManager", "GranaryClient", "GranaryMeta", "GranaryTransport", "GranaryWire", "GranaryCore"]),
        .testTarget(name: "GranaryNativeTests", dependencies: ["GranaryErasure", "GranaryFUSE", "GranaryTransport"]),
        .testTarget(name: "GranaryBuffersTests", dependencies: ["GranaryBuffers", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "GranaryPrefetchTests", dependencies: ["GranaryPrefetch"]),
        .testTarget(name: "GranaryLoaderTests", dependencies: ["GranaryLoader", "GranaryBuffers", "GranaryMeta", "GranaryCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["GranaryTestSupport", "GranaryMetrics", "GranaryManager", "GranaryClient", "GranaryFUSE", "GranaryLoader", "GranaryBuffers", "GranaryPrefetch", "GranaryMeta", "GranaryErasure", "GranaryTransport", "GranaryWire", "GranaryCore"]),
    ]
)
