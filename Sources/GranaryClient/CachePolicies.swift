import GranaryCore
import GranaryPrefetch
import Logging

/// Makes the policy `CacheSettings.Policy` names, over a cache's key table.
public enum CachePolicies {
    public static func make(_ policy: CacheSettings.Policy, keys: KeyTable, capacityBytes: Int) -> any CachePolicy {
        switch policy {
        case .off, .lru: return LRUPolicy()
        case .lfu: return LFUPolicy()
        case .pinned: return PinnedPolicy()
        case .learned: return LearnedPolicy(keys: keys)
        case .hinted: return HintedPolicy()
        }
    }
}

extension ReadCache {
    /// A cache whose policy is the one `settings.policy` names.
    public convenience init(client: FileClient, settings: CacheSettings, namespace: String, logger: Logger) throws(ClientError) {
        try self.init(client: client, settings: settings, namespace: namespace, logger: logger) { keys in
            CachePolicies.make(settings.policy, keys: keys, capacityBytes: settings.memoryBytes)
        }
    }
}
