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
        do {
            return try await next(request, context)
        } catch let error as SignatureError {
            throw JSONError(.unauthorized, error.description)
        } catch let error as SlackRequestError {
            throw JSONError(error.status, error.reason)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as DatabaseError {
            logger.error("storage failed while handling a request", metadata: ["error": "\(error)"])
            throw JSONError(.serviceUnavailable, "temporarily unavailable, please retry")
        } catch {
            logger.error("request failed", metadata: ["error": "\(type(of: error))"])
            throw JSONError(.internalServerError, "internal error")
        }
    }
}
