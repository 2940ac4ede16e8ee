import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird
import Logging

/// The one place domain errors become HTTP: signature failures 401, unusable requests 4xx, storage trouble 503
/// (Slack retries, and the retry is processed since nothing was stored). Bodies are short JSON reasons, never a
/// secret or a stack trace.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            return try await next(request, context)
        } catch {
            let mapped = map(error)
            // The Slack routes log their own line on success; their refusals are logged here, with the reason.
            if request.uri.path.hasPrefix("/slack/") {
                logger.info("\(request.method.rawValue) \(request.uri.path)", metadata: [
                    "status": "\(mapped.status.code)", "duration_ms": "\((ContinuousClock.now - start).milliseconds)",
                    "reason": "\(mapped.reason)",
                ])
            }
            throw mapped
        }
    }

    private func map(_ error: any Error) -> JSONError {
        do {
            throw error
        } catch let error as SignatureError {
            return JSONError(.unauthorized, error.description)
        } catch let error as SlackRequestError {
            return JSONError(error.status, error.reason)
        } catch let error as JSONError {
            return error
        } catch let error as any HTTPResponseError {
            return JSONError(error.status, error.status.reasonPhrase)
        } catch let error as DatabaseError {
            logger.error("storage failed while handling a request", metadata: ["error": "\(error)"])
            return JSONError(.serviceUnavailable, "temporarily unavailable, please retry")
        } catch {
            logger.error("request failed", metadata: ["error": "\(type(of: error))"])
            return JSONError(.internalServerError, "internal error")
        }
    }
}
