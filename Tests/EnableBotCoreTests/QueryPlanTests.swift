@testable import EnableBotCore
import Foundation
import Testing
import TestSupport

/// Statements on the ack path's one SQLite connection must not grow with the backlog: these read SQLite's own plan.
@Suite struct QueryPlanTests {
    @Test func claimingJobsLooksThemUpByIDInsteadOfWalkingTheQueue() async throws {
        try await withTestDatabase(.sqlite) { test in
            let plan = try await test.database.query(
                "EXPLAIN QUERY PLAN " + JobQueue.claimSQLSQLite, [.integer(1), .integer(2), .integer(3), .text("t"), .text("")]
            ).map { try $0.string("detail") }
            // The outer UPDATE finds each chosen id by its key; only the subquery walks jobs_ready, and LIMIT stops it.
            #expect(plan.first?.contains("INTEGER PRIMARY KEY") == true, "\(plan)")
            #expect(plan.contains { $0.contains("jobs_ready (status=? AND run_at<?)") }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "no sort of the whole queue: \(plan)")
        }
    }
}
