import Foundation
import NIOConcurrencyHelpers

/// A clock tests move by hand, injected wherever code asks for `now`.
public final class TestClock: Sendable {
    private let current: NIOLockedValueBox<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = NIOLockedValueBox(start) }

    public var now: Date { current.withLockedValue { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }

    public func set(_ date: Date) { current.withLockedValue { $0 = date } }

    /// The closure to inject.
    public var function: @Sendable () -> Date { { [self] in self.now } }
}
