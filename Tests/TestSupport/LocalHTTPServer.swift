import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle
import Synchronization

/// A Hummingbird server on a free loopback port, for tests that need a real HTTP peer (fake Slack, fake LLM, ...).
///
/// ```swift
/// try await withStack { stack in
///     let server = try await stack.server { router in
///         router.get("/ping") { _, _ in "pong" }
///     }
///     let url = server.baseURL + "/ping"
/// }   // the server is stopped here, and the test waited for it
/// ```
public struct LocalHTTPServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The bound port on 127.0.0.1.
    public let port: Int
    private let task: Task<Void, any Error>
    private let group: ServiceGroup
    private let connections: ConnectionCounter

    /// TCP connections accepted so far: shows whether a client reuses its connections.
    public var connectionsAccepted: Int { connections.accepted.load(ordering: .relaxed) }

    /// "http://127.0.0.1:PORT", without a trailing slash.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts a server with the routes `configure` adds and returns once it accepts connections.
    /// - Parameter backlog: the listen queue; large enough by default for a burst of 1,000 connections.
    public static func start(
        backlog: Int = 4096,
        configure: (Router<BasicRequestContext>) -> Void
    ) async throws -> LocalHTTPServer {
        let router = Router()
        configure(router)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let connections = ConnectionCounter()
        var logger = Logger(label: "LocalHTTPServer")
        logger.logLevel = .warning
        let app = Application(
            router: router,
            configuration: .init(
                address: .hostname("127.0.0.1", port: 0),
                backlog: backlog,
                availableConnectionsDelegate: CountingConnections(counter: connections)
            ),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            defer { portContinuation.finish() }  // a server that fails to start ends the wait below
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            let reason: String
            switch await task.result {
            case .failure(let error): reason = "\(error)"
            case .success: reason = "stopped before it was running"
            }
            throw StartError(description: "LocalHTTPServer did not start: \(reason)")
        }
        return LocalHTTPServer(port: port, task: task, group: group, connections: connections)
    }

    /// Stops the server and waits until it has stopped. Requests still being handled get `gracePeriod` to finish,
    /// then are cut off.
    public func stop(gracePeriod: Duration = .milliseconds(500)) async {
        await group.triggerGracefulShutdown()
        let task = self.task
        await withTaskGroup(of: Void.self) { waiters in
            waiters.addTask { _ = await task.result }
            waiters.addTask {
                try? await Task.sleep(for: gracePeriod)
                task.cancel()
            }
            await waiters.next()
            waiters.cancelAll()
        }
        _ = await task.result
    }
}

private final class ConnectionCounter: Sendable {
    let accepted = Atomic<Int>(0)
}

/// Counts connections and never refuses one.
private struct CountingConnections: AvailableConnectionsDelegate {
    let counter: ConnectionCounter
    func connectionOpened() { counter.accepted.add(1, ordering: .relaxed) }
    func connectionClosed() {}
    func isAcceptingNewConnections() -> Bool { true }
}
