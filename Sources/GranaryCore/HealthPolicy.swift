/// How the manager acts on drive health (`health_*` keys of `[manager]`).
///
/// The defaults follow what the field does with fail-slow drives: flag quickly (reads route around
/// a suspect drive at once, which costs little), but evict only after the slowness has persisted
/// for minutes, at most a couple of drives an hour, so a cluster-wide hiccup cannot empty it; a
/// drive comes back only when an operator rejoins it unless `autoRejoin` is set.
public struct HealthPolicy: Sendable, Equatable {
    /// The fail-slow detector runs; drives it flags become suspect.
    public var detect = true
    /// A drive suspect this long is evicted (when `autoEvict`), in seconds.
    public var evictAfterS: Int = 300
    /// Suspect drives are evicted by the manager itself after `evictAfterS`.
    public var autoEvict = true
    /// Automatic evictions allowed per hour (operator evictions are not counted).
    public var maxEvictionsPerHour: Int = 2
    /// An evicted drive that has looked healthy again for `rejoinAfterS` rejoins on its own.
    public var autoRejoin = false
    public var rejoinAfterS: Int = 3_600
    /// How long a slowdown must persist before a drive is suspect, and how long it must be gone
    /// before a suspect drive is healthy again (hysteresis), in seconds.
    public var suspectAfterS: Double = 30
    public var clearAfterS: Double = 60
    /// Drives whose predicted failure probability passes the model's threshold become suspect.
    public var actOnPrediction = true

    public init() {}
}
