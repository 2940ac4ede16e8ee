import EnableBotCore
import EnableBotHTTP
import Foundation
import Hummingbird

/// Cookie names, in one place.
enum CookieName {
    static let session = "eb_session"
    static let installState = "eb_install_state"
    static let signInState = "eb_signin_state"
    static let loginNonce = "eb_login"
}

/// Thrown by dashboard routes without a valid session: becomes a redirect to the login page.
struct SignInRequired: Error {}

extension Response {
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

/// Reads `application/x-www-form-urlencoded` bodies.
enum WebForm {
    static func read(_ request: Request, limit: Int) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(limit: limit)
        return parse(String(buffer: buffer))
    }

    /// Decodes `a=1&b=x+y`; undecodable pairs are dropped.
    static func parse(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                  let value = (parts.count > 1 ? String(parts[1]) : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            else { continue }
            result[key] = value
        }
        return result
    }

    /// `application/x-www-form-urlencoded` query text for a URL.
    static func query(_ params: [(String, String)]) -> String {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return params.map { key, value in
            (key.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "") + "="
                + (value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")
        }.joined(separator: "&")
    }
}
