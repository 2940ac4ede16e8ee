import EnableBotAPI
import EnableBotCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Everything that must be refused before any work, over real HTTP: size, signature, timestamp, content.
@Suite("Request verification")
struct RequestVerificationTests {
    static let challengeBody = Array(#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#.utf8)

    static func signatureHeaders(timestamp: String, signature: String) -> HTTPFields {
        [.contentType: "application/json", HTTPField.Name("X-Slack-Request-Timestamp")!: timestamp,
         HTTPField.Name("X-Slack-Signature")!: signature]
    }

    @Test("url_verification answers the challenge")
    func challenge() async throws {
        try await withAPIHarness(.sqlite) { harness in
            try await harness.run { client in
                let response = try await client.postEvent(Self.challengeBody)
                #expect(response.status == .ok)
                #expect(response.text.contains("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"))
            }
            harness.expectNoSecretsLogged()
        }
    }

    @Test("every signature failure is 401 with a short JSON reason, and nothing else happens")
    func signatureFailures() async throws {
        let clock = TestClock()
        try await withAPIHarness(.sqlite) { harness in
            let now = Int(clock.now.timeIntervalSince1970)
            let body = SlackRequests.mention(eventID: "EvSIG")
            let good = SlackSignatureVerifier.sign(secret: APIHarness.signingSecret, timestamp: "\(now)", body: body)
            let hex = String(good.dropFirst(3))
            let wrongSecret = SlackSignatureVerifier.sign(secret: "another-secret", timestamp: "\(now)", body: body)
            var cases: [(String, HTTPFields)] = [
                ("no headers", [.contentType: "application/json"]),
                ("no signature", [.contentType: "application/json", HTTPField.Name("X-Slack-Request-Timestamp")!: "\(now)"]),
                ("no timestamp", [.contentType: "application/json", HTTPField.Name("X-Slack-Signature")!: good]),
                ("wrong secret", Self.signatureHeaders(timestamp: "\(now)", signature: wrongSecret)),
                ("v1 prefix", Self.signatureHeaders(timestamp: "\(now)", signature: "v1=" + hex)),
                ("upper-case prefix", Self.signatureHeaders(timestamp: "\(now)", signature: "V0=" + hex)),
                ("no prefix", Self.signatureHeaders(timestamp: "\(now)", signature: hex)),
                ("63 hex digits", Self.signatureHeaders(timestamp: "\(now)", signature: "v0=" + hex.dropLast())),
                ("65 hex digits", Self.signatureHeaders(timestamp: "\(now)", signature: "v0=" + hex + "0")),
                ("non-hex", Self.signatureHeaders(timestamp: "\(now)", signature: "v0=" + String(repeating: "zz", count: 32))),
                ("non-ASCII signature", Self.signatureHeaders(timestamp: "\(now)", signature: "v0=" + String(repeating: "é", count: 32))),
                ("empty signature", Self.signatureHeaders(timestamp: "\(now)", signature: "")),
            ]
            // A repeated header is read as its first value: a wrong signature cannot be followed by the right one.
            var repeated = Self.signatureHeaders(timestamp: "\(now)", signature: wrongSecret)
            repeated.append(HTTPField(name: HTTPField.Name("X-Slack-Signature")!, value: good))
            cases.append(("wrong signature, then the right one", repeated))
            for timestamp in ["abc", "1e9", "-1", "+\(now)", " \(now)", "99999999999999999999999", "0", "", "١٢٣"] {
                let signature = SlackSignatureVerifier.sign(secret: APIHarness.signingSecret, timestamp: timestamp, body: body)
                cases.append(("timestamp \(timestamp)", Self.signatureHeaders(timestamp: timestamp, signature: signature)))
            }
            for offset in [-301, 301, -86_400, 86_400] {
                cases.append(("timestamp \(offset) s away", SlackRequests.headers(body: body, timestamp: now + offset)))
            }
            let allCases = cases
            try await harness.run(harness.dependencies { $0.now = clock.function }) { client in
                for (name, headers) in allCases {
                    let response = try await client.postEvent(body, headers: headers)
                    #expect(response.status == .unauthorized, "\(name): \(response.status)")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(name)")
                    #expect(response.text.hasPrefix("{\"error\":"), "\(name): \(response.text)")
                }
                // A body changed after signing.
                var tampered = body
                tampered[tampered.count / 2] ^= 1
                let response = try await client.postEvent(tampered, headers: SlackRequests.headers(body: body, timestamp: now))
                #expect(response.status == .unauthorized)
            }
            #expect(try await harness.stores.processedEvents.contains("EvSIG") == false)
            #expect(try await harness.stores.jobs.count(status: .queued) == 0)
            #expect(harness.llm.calls.isEmpty)
            #expect(harness.slack.calls.isEmpty)
            // No request body is logged.
            #expect(!harness.logs.all.contains { $0.contains("sliding window") })
            harness.expectNoSecretsLogged()
        }
    }

    @Test("timestamps 299 s away either way are accepted, 301 s refused", arguments: [-299, 299, -301, 301, 0])
    func window(offset: Int) async throws {
        let clock = TestClock()
        try await withAPIHarness(.sqlite) { harness in
            try await harness.run(harness.dependencies { $0.now = clock.function }) { client in
                let timestamp = Int(clock.now.timeIntervalSince1970) + offset
                let response = try await client.postEvent(Self.challengeBody, headers: SlackRequests.headers(body: Self.challengeBody, timestamp: timestamp))
                #expect(response.status == (abs(offset) <= 299 ? .ok : .unauthorized))
            }
        }
    }

    @Test("malformed JSON, invalid UTF-8, wrong content type, oversized bodies: 4xx, never 5xx")
    func malformedRequests() async throws {
        try await withAPIHarness(.sqlite) { harness in
            try await harness.run { client in
                for (name, body) in [
                    ("malformed JSON", Array("{\"type\": \"event_callback\", ".utf8)),
                    ("not an object", Array("[1,2,3]".utf8)),
                    ("no type", Array("{}".utf8)),
                    ("invalid UTF-8", [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D] as [UInt8]),
                    ("invalid UTF-8 past the first eight bytes", Array(#"{"type":"event_callback","x":""#.utf8) + [0xC3] + Array(#""}"#.utf8)),
                    ("event_callback without event", Array(#"{"type":"event_callback","team_id":"T1","event_id":"Ev1"}"#.utf8)),
                    ("empty", [UInt8]()),
                ] {
                    let response = try await client.postEvent(body)
                    #expect(response.status == .badRequest, "\(name): \(response.status)")
                }
                let wrongType = try await client.postEvent(
                    Self.challengeBody, headers: SlackRequests.headers(body: Self.challengeBody, contentType: "text/plain"))
                #expect(wrongType.status == .unsupportedMediaType)
                let nearMiss = try await client.postEvent(
                    Self.challengeBody, headers: SlackRequests.headers(body: Self.challengeBody, contentType: "application/jsonx"))
                #expect(nearMiss.status == .unsupportedMediaType)
                // Media types are case-insensitive and may carry parameters and blanks.
                let spelledOddly = try await client.postEvent(
                    Self.challengeBody, headers: SlackRequests.headers(body: Self.challengeBody, contentType: " Application/JSON ; charset=UTF-8"))
                #expect(spelledOddly.status == .ok)
                let formToEvents = try await client.postEvent(
                    Self.challengeBody, headers: SlackRequests.headers(body: Self.challengeBody, contentType: "application/x-www-form-urlencoded"))
                #expect(formToEvents.status == .unsupportedMediaType)
                let jsonToCommands = try await client.postEvent(Self.challengeBody, path: "/slack/commands")
                #expect(jsonToCommands.status == .unsupportedMediaType)

                let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 2 << 20)
                let tooLarge = try await client.postEvent(huge)
                #expect(tooLarge.status == .contentTooLarge)
                let unsignedHuge = try await client.postEvent(huge, headers: [.contentType: "application/json"])
                #expect(unsignedHuge.status == .contentTooLarge)
                let tooLargeCommand = try await client.postEvent(huge, path: "/slack/commands")
                #expect(tooLargeCommand.status == .contentTooLarge)

                // Hostile values on the commands route too.
                let command = SlackRequests.command(text: "hello")
                var headers = SlackRequests.headers(body: command, contentType: "application/x-www-form-urlencoded")
                headers[HTTPField.Name("X-Slack-Request-Timestamp")!] = "1e9"
                #expect(try await client.postEvent(command, headers: headers, path: "/slack/commands").status == .unauthorized)
                let badForm = Array("command=%ZZ&text=%".utf8)
                #expect(try await client.postEvent(
                    badForm, headers: SlackRequests.headers(body: badForm, contentType: "application/x-www-form-urlencoded"),
                    path: "/slack/commands").status == .badRequest)
            }
            #expect(harness.llm.calls.isEmpty)
            harness.expectNoSecretsLogged()
        }
    }

    @Test("ssl_check is answered without touching any handler")
    func sslCheck() async throws {
        try await withAPIHarness(.sqlite) { harness in
            try await harness.run { client in
                let body = Array("ssl_check=1&token=legacy".utf8)
                let response = try await client.postEvent(
                    body, headers: [.contentType: "application/x-www-form-urlencoded"], path: "/slack/commands")
                #expect(response.status == .ok)
                #expect(response.body.readableBytes == 0)
            }
            #expect(try await harness.stores.jobs.count(status: .queued) == 0)
        }
    }
}
