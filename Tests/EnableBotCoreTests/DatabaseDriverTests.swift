import EnableBotCore
import Foundation
import Testing
import TestSupport

@Suite("SQL drivers")
struct DatabaseDriverTests {
    @Test("values round trip with their types", arguments: TestDatabaseKind.allCases)
    func roundTrip(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let db = test.database
            try await db.query("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, amount DOUBLE PRECISION, note TEXT)")
            let texts = ["plain", "ünïcødé ✓ 🚀", "quote ' and \" and \\", "", String(repeating: "x", count: 100_000)]
            for (index, text) in texts.enumerated() {
                try await db.query("INSERT INTO t (id, name, amount, note) VALUES ($1, $2, $3, $4)",
                                   [.integer(Int64(index)), .text(text), .real(1.5), .null])
            }
            let rows = try await db.query("SELECT id, name, amount, note FROM t ORDER BY id")
            #expect(try rows.map { try $0.string("name") } == texts)
            #expect(rows.first?["id"] == .integer(0))
            #expect(rows.first?["amount"] == .real(1.5))
            #expect(rows.first?["note"] == .null)
            // PostgreSQL cannot hold NUL in text; both drivers refuse it alike rather than store different things.
            await #expect(throws: DatabaseError.self) {
                try await db.query("INSERT INTO t (id, name) VALUES ($1, $2)", [.integer(99), .text("nul\u{0}inside")])
            }
            let big = try await db.queryFirst("SELECT CAST($1 AS BIGINT) AS n", [.integer(Int64.max - 1)])
            #expect(big?.optionalInt64("n") == Int64.max - 1)
        }
    }

    @Test("a placeholder may appear twice and out of order", arguments: TestDatabaseKind.allCases)
    func placeholders(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let row = try await test.database.queryFirst("SELECT $2 AS b, $1 AS a, $2 AS again", [.text("one"), .text("two")])
            #expect(row?.optionalString("a") == "one")
            #expect(row?.optionalString("b") == "two")
            #expect(row?.optionalString("again") == "two")
        }
    }

    @Test("unique violations are constraint errors that do not echo the values", arguments: TestDatabaseKind.allCases)
    func constraintErrors(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            try await test.database.query("CREATE TABLE u (k TEXT PRIMARY KEY)")
            try await test.database.query("INSERT INTO u (k) VALUES ($1)", [.text("xoxb-secret-value")])
            await #expect {
                try await test.database.query("INSERT INTO u (k) VALUES ($1)", [.text("xoxb-secret-value")])
            } throws: { error in
                guard let error = error as? DatabaseError else { return false }
                return error.kind == .constraint && !error.description.contains("xoxb-secret-value")
            }
        }
    }

    @Test("a statement run again after its table changed shape answers with the new shape", arguments: TestDatabaseKind.allCases)
    func statementAfterSchemaChange(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            // One connection throughout, so the second run meets the statement the first one prepared.
            let columns = try await test.database.withConnection { connection -> [[String]] in
                _ = try connection.run("CREATE TABLE s (k TEXT PRIMARY KEY)", [])
                _ = try connection.run("INSERT INTO s (k) VALUES ($1)", [.text("a")])
                let before = try connection.query("SELECT * FROM s WHERE k = $1", [.text("a")])
                _ = try connection.run("ALTER TABLE s ADD COLUMN extra TEXT", [])
                let after = try connection.query("SELECT * FROM s WHERE k = $1", [.text("a")])
                return [before, after].map { $0.first?.columns ?? [] }
            }
            #expect(columns == [["k"], ["k", "extra"]])
        }
    }

    @Test("more distinct statements than a connection keeps prepared still run", arguments: TestDatabaseKind.allCases)
    func manyDistinctStatements(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let sums = try await test.database.withConnection { connection in
                try (0..<260).map { n in
                    try connection.query("SELECT CAST($1 AS BIGINT) + \(n) AS n", [.integer(1)]).first?.optionalInt64("n")
                }
            }
            #expect(sums == (0..<260).map { Int64($0 + 1) })
        }
    }

    @Test("a thrown error rolls the transaction back", arguments: TestDatabaseKind.allCases)
    func rollback(kind: TestDatabaseKind) async throws {
        struct Abort: Error {}
        try await withTestDatabase(kind) { test in
            try await test.database.query("CREATE TABLE r (k TEXT PRIMARY KEY)")
            await #expect(throws: Abort.self) {
                try await test.database.transaction { connection in
                    try connection.query("INSERT INTO r (k) VALUES ($1)", [.text("a")])
                    throw Abort()
                }
            }
            let committed = try await test.database.transaction { connection in
                try connection.query("INSERT INTO r (k) VALUES ($1)", [.text("b")])
                return try connection.query("SELECT COUNT(*) AS n FROM r").first?.int("n")
            }
            #expect(committed == 1)
            #expect(try await test.database.query("SELECT k FROM r").map { try $0.string("k") } == ["b"])
        }
    }

    @Test("a syntax error is a query error and the connection stays usable", arguments: TestDatabaseKind.allCases)
    func queryErrors(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            await #expect(throws: DatabaseError.self) { try await test.database.query("SELEC nonsense") }
            try await test.database.ping()
        }
    }

    @Test("many concurrent statements share the pool", arguments: TestDatabaseKind.allCases)
    func concurrency(kind: TestDatabaseKind) async throws {
        try await withTestDatabase(kind) { test in
            let db = test.database
            try await db.query("CREATE TABLE c (k BIGINT PRIMARY KEY)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask { try await db.query("INSERT INTO c (k) VALUES ($1)", [.integer(Int64(index))]) }
                }
                try await group.waitForAll()
            }
            #expect(try await db.queryFirst("SELECT COUNT(*) AS n FROM c")?.int("n") == 200)
        }
    }

    @Test("SQLite creates the folder of its file and uses WAL")
    func sqliteFile() async throws {
        let path = TestPaths.temporaryDirectory() + "/nested/deeper/db.sqlite"
        let db = try DatabaseFactory.open(url: "sqlite:" + path, poolSize: 1, logger: TestLog.logger)
        let mode = try await db.queryFirst("PRAGMA journal_mode")
        #expect(mode?.optionalString("journal_mode") == "wal")
        #expect(try await db.queryFirst("PRAGMA foreign_keys")?.int("foreign_keys") == 1)
        #expect(FileManager.default.fileExists(atPath: path))
        await db.shutdown()
        // The URL form with slashes, `sqlite:///abs/path`, opens the same absolute file.
        let again = try DatabaseFactory.open(url: "sqlite://" + path, poolSize: 1, logger: TestLog.logger)
        try await again.query("CREATE TABLE marker (k TEXT)")
        await again.shutdown()
        let reopened = try DatabaseFactory.open(url: "sqlite:" + path, poolSize: 1, logger: TestLog.logger)
        #expect(try await reopened.queryFirst("SELECT COUNT(*) AS n FROM marker")?.int("n") == 0)
        await reopened.shutdown()
    }

    @Test("an unreachable PostgreSQL is a connection error, not a hang")
    func unreachablePostgres() async throws {
        let db = try DatabaseFactory.open(url: "postgres://nobody:pw@127.0.0.1:1/none", poolSize: 1, logger: TestLog.logger)
        await #expect { try await db.ping() } throws: { ($0 as? DatabaseError)?.kind == .connection }
        await db.shutdown()
    }

    @Test("malformed URLs are refused")
    func malformedURL() {
        #expect(throws: DatabaseError.self) { try DatabaseFactory.open(url: "mysql://x", poolSize: 1, logger: TestLog.logger) }
    }
}
