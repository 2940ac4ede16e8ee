// The API benchmark's helper (see benchmarks/api-ack.sh): seeds tenants into DATABASE_URL and writes validly
// signed event_callback requests with distinct event ids for the load generator.
//
//   enablebot-bench seed --tenants N
//   enablebot-bench requests --tenants N --count M --out FILE [--prefix P] [--ts-base SECONDS]
//   enablebot-bench load --port P --requests FILE --rate R --seconds S [--connections C] [--path /slack/events]
//                        [--record FILE]
//   enablebot-bench scale --installations N --turns M --backup PATH
//
// `scale` fills DATABASE_URL with N installations (tokens sealed as the services seal them), M chat memory turns
// (half past retention), M/10 processed events and done jobs (half past retention), then times one retention run
// and one `enablebot backup` (VACUUM INTO on SQLite, pg_dump when on PATH for PostgreSQL) and prints the figures.
//
// `load` is an open-loop load generator for latency below saturation: it sends the file's requests at a fixed
// rate however fast the server answers, and measures each latency from the moment the request was due (so a
// stalled server cannot hide its stall by delaying the requests behind it). With --record it also writes one line
// per request sent: the event's `ts`, its due time (epoch microseconds, CLOCK_REALTIME), the status (0 when the
// request failed) and the acknowledgement latency in microseconds, tab-separated (see benchmarks/api-reply.sh).
//
// `requests` gives event i the `ts` "<ts-base>.<i, six digits>" (ts-base 1800000000 by default), unique in one file;
// give each file of one run its own --ts-base when replies are matched to events by `ts`.
//
// Reads DATABASE_URL, ENCRYPTION_KEYS and SLACK_SIGNING_SECRET like the services do.
import EnableBotCore
import Foundation
import Logging

func option(_ name: String, default value: String? = nil) -> String {
    let args = CommandLine.arguments
    if let index = args.firstIndex(of: name), index + 1 < args.count { return args[index + 1] }
    guard let value else { Logging.fail(service: .cli, "enablebot-bench: \(name) is required") }
    return value
}

let environment = ProcessInfo.processInfo.environment
let tenants = Int(option("--tenants", default: "100")) ?? 100

switch CommandLine.arguments.dropFirst().first {
case "seed":
    let settings: Settings
    do { settings = try Settings.load(service: .cli) } catch { Logging.fail(service: .cli, error.description) }
    let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    let backends = try await Backends.open(settings: settings, logger: logger)
    let stores = Stores(database: backends.database, cipher: try TokenCipher(keys: settings.encryptionKeys))
    try await backends.prepare(keys: stores.keys, keyIDs: settings.encryptionKeys.map(\.id), logger: logger)
    let now = Date()
    for index in 0..<tenants {
        let id = String(format: "TB%05d", index)
        try await stores.installations.save(
            Installation(
                tenantID: id, teamID: id, enterpriseID: nil, teamName: "Bench \(id)", appID: "ABENCH", botUserID: "UBOT\(id)",
                botID: "B\(id)", scopes: "app_mentions:read,chat:write", installerUserID: "UBENCH", installedAt: now, updatedAt: now
            ),
            tokens: InstallationTokens(botToken: "xoxb-bench-\(id)")
        )
    }
    await backends.shutdown()
    print("seeded \(tenants) tenants")

case "requests":
    guard let secret = environment["SLACK_SIGNING_SECRET"], !secret.isEmpty else {
        Logging.fail(service: .cli, "enablebot-bench: SLACK_SIGNING_SECRET is required")
    }
    let count = Int(option("--count", default: "100000")) ?? 100_000
    let prefix = option("--prefix", default: "Ev")
    let path = option("--out")
    let tsBase = Int(option("--ts-base", default: "1800000000")) ?? 1_800_000_000
    // One line per request: timestamp, signature, body (compact JSON, no tabs or newlines), tab-separated.
    let timestamp = String(Int(Date().timeIntervalSince1970))
    var out = ""
    out.reserveCapacity(count * 460)
    for index in 0..<count {
        let team = String(format: "TB%05d", index % tenants)
        let ts = "\(tsBase).\(String(format: "%06d", index))"
        let body = """
            {"token":"bench","team_id":"\(team)","api_app_id":"ABENCH","type":"event_callback","event_id":"\(prefix)\(index)",\
            "event_time":1800000000,"event":{"type":"app_mention","user":"U\(index % 997)","channel":"C\(index % 31)",\
            "ts":"\(ts)","event_ts":"\(ts)","text":"<@UBOT\(team)> benchmark question number \(index)"},\
            "authorizations":[{"team_id":"\(team)","user_id":"UBOT\(team)","is_bot":true,"is_enterprise_install":false}]}
            """
        let signature = SlackSignatureVerifier.sign(secret: secret, timestamp: timestamp, body: Array(body.utf8))
        out += timestamp + "\t" + signature + "\t" + body + "\n"
    }
    try out.write(toFile: path, atomically: true, encoding: .utf8)
    print("wrote \(count) signed requests for \(tenants) tenants to \(path)")

case "load":
    let port = UInt16(option("--port")) ?? 0
    let rate = Double(option("--rate")) ?? 1000
    let seconds = Double(option("--seconds", default: "10")) ?? 10
    let connections = Int(option("--connections", default: "8")) ?? 8
    let path = option("--path", default: "/slack/events")
    let lines = try String(contentsOfFile: option("--requests"), encoding: .utf8).split(separator: "\n")
    let total = min(lines.count, Int(rate * seconds))
    let requests: [[UInt8]] = lines.prefix(total).map { line in
        let fields = line.split(separator: "\t", maxSplits: 2)
        let body = Array(fields[2].utf8)
        return Array((
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "X-Slack-Request-Timestamp: \(fields[0])\r\nX-Slack-Signature: \(fields[1])\r\nContent-Length: \(body.count)\r\n\r\n"
        ).utf8) + body
    }
    let result = OpenLoopLoad(port: port, requests: requests, rate: rate, connections: connections).run()
    if let recordPath = CommandLine.arguments.contains("--record") ? option("--record") : nil {
        // The event's ts is the first "ts":"…" in the body (the event object's; the envelope has none).
        func eventTS(_ line: Substring) -> Substring {
            guard let start = line.range(of: "\"ts\":\"") else { return "-" }
            let rest = line[start.upperBound...]
            return rest.prefix { $0 != "\"" }
        }
        var out = ""
        out.reserveCapacity(result.records.count * 48)
        for record in result.records.sorted(by: { $0.index < $1.index }) {
            out += "\(eventTS(lines[record.index]))\t\(record.dueEpochMicros)\t\(record.status)\t\(record.latencyMicros)\n"
        }
        try out.write(toFile: recordPath, atomically: true, encoding: .utf8)
    }
    print(result)

case "scale":
    try await ScaleBench.run(
        installations: Int(option("--installations", default: "10000")) ?? 10_000,
        turns: Int(option("--turns", default: "1000000")) ?? 1_000_000,
        backupPath: option("--backup")
    )

default:
    Logging.fail(service: .cli, "usage: enablebot-bench seed | requests | load | scale (see the header of main.swift)")
}
