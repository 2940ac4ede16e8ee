import HTTPTypes
import Hummingbird
import TestSupport

// The test server speaks Hummingbird (HTTPTypes' HTTPRequest); the tests beside it use the client's HTTPClientRequest.

/// The peer of `CurlHTTPClientTests`.
enum CurlTestServer {
    static func start() async throws -> LocalHTTPServer {
        try await LocalHTTPServer.start { router in
            for method: HTTPRequest.Method in [.get, .post, .put, .delete, .patch] {
                router.on("/echo", method: method) { request, _ in try await echo(request) }
            }
            // Status from the path, with a Retry-After header.
            router.get("/status/{code}") { _, context in
                let code = try context.parameters.require("code", as: Int.self)
                return Response(
                    status: .init(code: code),
                    headers: [.retryAfter: "7", .contentType: "text/plain"],
                    body: .init(byteBuffer: ByteBuffer(string: "status \(code)"))
                )
            }
            router.get("/redirect") { _, _ in
                Response(status: .found, headers: [.location: "/echo", HTTPField.Name("X-Hop")!: "1"])
            }
            router.get("/sleep/{ms}") { _, context in
                let ms = try context.parameters.require("ms", as: Int.self)
                try await Task.sleep(for: .milliseconds(ms))
                return "slept \(ms)"
            }
            // A body of the given size with a Content-Length.
            router.get("/big/{bytes}") { _, context in
                let bytes = try context.parameters.require("bytes", as: Int.self)
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: 0x61, count: bytes)))
            }
            // Three pieces 300 ms apart, as a model streams its answer.
            router.get("/slowpieces") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                    for piece in ["one ", "two ", "three"] {
                        try await writer.write(ByteBuffer(string: piece))
                        try await Task.sleep(for: .milliseconds(300))
                    }
                    try await writer.finish(nil)
                })
            }
            // The same, chunked, so only the size received so far tells it is too large.
            router.get("/stream/{bytes}") { _, context in
                let bytes = try context.parameters.require("bytes", as: Int.self)
                return Response(status: .ok, body: ResponseBody { writer in
                    var left = bytes
                    while left > 0 {
                        let chunk = min(left, 64 << 10)
                        try await writer.write(ByteBuffer(repeating: 0x62, count: chunk))
                        left -= chunk
                    }
                    try await writer.finish(nil)
                })
            }
        }
    }

    /// Returns the request body, with its method and some request headers as X-Echo-* response headers.
    private static func echo(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        var headers: HTTPFields = [
            HTTPField.Name("X-Echo-Method")!: request.method.rawValue,
            HTTPField.Name("X-Echo-Content-Type")!: request.headers[.contentType] ?? "none",
            HTTPField.Name("X-Echo-Expect")!: request.headers[.expect] ?? "none",
        ]
        if let token = request.headers[HTTPField.Name("X-Token")!] {
            headers[HTTPField.Name("X-Echo-Token")!] = token
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}
