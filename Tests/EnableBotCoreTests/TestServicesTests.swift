import Testing
import TestSupport

/// Without the throwaway servers an integration test fails, and says how to start them.
@Suite("Test services")
struct TestServicesTests {
    @Test("a missing or empty service URL fails with how to start the servers",
          arguments: [[:], ["ENABLEBOT_TEST_POSTGRES_URL": ""]])
    func missing(environment: [String: String]) throws {
        let error = #expect(throws: TestServiceNotConfigured.self) {
            try TestServiceNotConfigured.require("ENABLEBOT_TEST_POSTGRES_URL", service: "PostgreSQL", environment: environment)
        }
        let message = try #require(error).description
        #expect(message.hasPrefix("ENABLEBOT_TEST_POSTGRES_URL is not set"))
        #expect(message.contains("PostgreSQL"))
        #expect(message.contains("scripts/test.sh"))
        #expect(message.contains("source scripts/test-services.sh"))
    }

    @Test("a set URL is returned as it is")
    func present() throws {
        let url = "redis://127.0.0.1:6390/0"
        let environment = ["ENABLEBOT_TEST_REDIS_URL": url]
        #expect(try TestServiceNotConfigured.require("ENABLEBOT_TEST_REDIS_URL", service: "Redis", environment: environment) == url)
    }
}
