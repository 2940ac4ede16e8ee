import CCurl
import Testing

@testable import EnableBotCore

/// The header and body callbacks, fed directly: no server sends a 100 Continue or folded headers on demand.
struct CurlTransferTests {
    private func feed(_ transfer: CurlTransfer, lines: [String]) {
        for line in lines {
            let bytes = Array(line.utf8)
            let taken = bytes.withUnsafeBytes { transfer.receiveHeaderLine($0) }
            #expect(taken == bytes.count)
        }
    }

    @Test func keepsOnlyTheFinalResponsesHeaders() throws {
        let transfer = try CurlTransfer(request: HTTPClientRequest(url: "http://127.0.0.1/"), maxResponseBytes: 100)
        feed(transfer, lines: [
            "HTTP/1.1 100 Continue\r\n", "X-Interim: yes\r\n", "\r\n",
            "HTTP/1.1 200 OK\r\n", "Content-Type:  text/plain \r\n", "X-Folded: one\r\n", "\t two\r\n",
            "Set-Cookie: a=1\r\n", "Set-Cookie: b=2\r\n", "X-Colon: a:b\r\n", "\r\n",
        ])
        let response = try transfer.outcome(CURLE_OK).get()
        #expect(response.headers.map(\.name) == ["Content-Type", "X-Folded", "Set-Cookie", "Set-Cookie", "X-Colon"])
        #expect(response.header("content-type") == "text/plain")
        #expect(response.header("X-Folded") == "one two")
        #expect(response.header("X-Colon") == "a:b")
        #expect(response.header("X-Interim") == nil)
    }

    @Test func refusesBodyBeyondTheCap() throws {
        let transfer = try CurlTransfer(request: HTTPClientRequest(url: "http://127.0.0.1/"), maxResponseBytes: 10)
        let chunk: [UInt8] = Array(repeating: 1, count: 6)
        #expect(chunk.withUnsafeBytes { transfer.receiveBody($0) } == 6)
        #expect(chunk.withUnsafeBytes { transfer.receiveBody($0) } == 0)
        #expect(throws: HTTPClientError.responseTooLarge) { try transfer.outcome(CURLE_WRITE_ERROR).get() }
        #expect(throws: HTTPClientError.transport) { try transfer.outcome(CURLE_SEND_ERROR).get() }
    }
}
