import Metrics
import Prometheus

/// The process's Prometheus registry, bootstrapped as the swift-metrics backend.
public enum MetricsBootstrap {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Prometheus text format of every metric recorded so far.
    public static func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
