import Foundation

/// An integration test found no throwaway server to run against: the environment variable that
/// `scripts/test-services.sh` exports is missing. The test fails with this message (it is never skipped, so a CI run
/// without the servers cannot pass by testing less).
public struct TestServiceNotConfigured: Error, CustomStringConvertible {
    /// The variable that was missing, e.g. `ENABLEBOT_TEST_POSTGRES_URL`.
    public let variable: String
    /// What the test needed, e.g. "PostgreSQL".
    public let service: String

    public var description: String {
        "\(variable) is not set, so this test has no \(service) to run against. Run the tests with scripts/test.sh, "
            + "or run `source scripts/test-services.sh` first in the shell that runs `swift test` "
            + "(it starts a throwaway PostgreSQL and Redis on loopback and exports their URLs)."
    }

    /// The variable's value, or this error when it is missing or empty.
    public static func require(
        _ variable: String, service: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String {
        guard let value = environment[variable], !value.isEmpty else {
            throw TestServiceNotConfigured(variable: variable, service: service)
        }
        return value
    }
}
