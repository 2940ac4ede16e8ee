import Foundation

/// Every store over one database and cipher: what a route, a worker or a CLI command reads and writes through.
/// A value, built where the application is built, and handed to the parts that need it.
public struct Stores: Sendable {
    public let installations: InstallationStore
    public let auditLog: AuditLog
    public let oauthStates: OAuthStateStore
    public let jobs: JobQueue
    public let processedEvents: ProcessedEvents
    public let chatMemory: ChatMemory
    public let usage: UsageCounters
    public let keys: KeyRegistry
    public let dashboardSessions: DashboardSessions
    public let assistantThreads: AssistantThreads

    public init(database: any Database, cipher: any Cipher, now: @escaping @Sendable () -> Date = Date.init) {
        installations = InstallationStore(database: database, cipher: cipher, now: now)
        auditLog = AuditLog(database: database, now: now)
        oauthStates = OAuthStateStore(database: database, now: now)
        jobs = JobQueue(database: database, now: now)
        processedEvents = ProcessedEvents(database: database, now: now)
        chatMemory = ChatMemory(database: database, now: now)
        usage = UsageCounters(database: database, now: now)
        keys = KeyRegistry(database: database, now: now)
        dashboardSessions = DashboardSessions(database: database, now: now)
        assistantThreads = AssistantThreads(database: database, now: now)
    }
}
