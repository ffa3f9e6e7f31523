/// Receives the exact order of upcoming reads from a reader that knows it (the data loader
/// publishes its next batches), so a prefetcher can fetch each item just before it is needed.
///
/// Guarantees asked of an implementation: `upcoming` returns at once (it must not do I/O on the
/// caller's task); each call replaces what the same `source` said before (the reads listed are
/// everything that source will read next, in order, starting now).
public protocol ReadHintSink: Sendable {
    func upcoming(_ reads: [UpcomingRead], source: String)
}
