import CoreMetrics
import Prometheus
import Synchronization

/// Installs the process's metrics backend once: every counter, gauge and timer recorded through
/// the swift-metrics API, in any module, lands in one Prometheus registry that `MetricsServer`
/// serves.
///
/// Guarantees: `install()` bootstraps the metrics system at most once per process (swift-metrics
/// allows only one bootstrap) and returns the same registry every time.
public enum MetricsBackend {
    private static let installed = Mutex<PrometheusCollectorRegistry?>(nil)

    public static func install() -> PrometheusCollectorRegistry {
        installed.withLock { current in
            if let current { return current }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // Drive operations run from tens of microseconds (page cache) to seconds (a failing drive).
            factory.defaultDurationHistogramBuckets = [
                .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            current = registry
            return registry
        }
    }
}
