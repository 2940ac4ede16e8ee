import EnableBotCore
import Foundation

/// One Web API request: its method, how it authenticated, and its parameters (form-encoded or JSON, as Slack
/// accepts both).
struct APICall {
    var method: String
    var authorization: String?
    var params: [String: Any]

    init(method: String, authorization: String?, contentType: String?, body: [UInt8]) {
        self.method = method
        self.authorization = authorization
        if contentType?.lowercased().hasPrefix("application/json") == true {
            params = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        } else {
            params = FormEncoding.decode(String(decoding: body, as: UTF8.self)) ?? [:]
        }
    }

    /// A parameter as text (numbers and booleans too); nil when absent or empty.
    func string(_ name: String) -> String? {
        let text: String? = switch params[name] {
        case let value as String: value
        case let value as NSNumber: value.stringValue
        default: nil
        }
        return text.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A parameter that is JSON: an array or object in a JSON body, or its JSON text in a form.
    func json(_ name: String) -> Any? {
        if let text = params[name] as? String { return try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
        return params[name]
    }

    /// The bearer token, from `Authorization: Bearer …` or the `token` parameter.
    var token: String? {
        if let authorization, authorization.hasPrefix("Bearer ") { return String(authorization.dropFirst(7)) }
        return string("token")
    }

    /// Client credentials, from HTTP Basic or the `client_id` / `client_secret` parameters.
    var clientCredentials: (id: String, secret: String)? {
        if let authorization, authorization.hasPrefix("Basic "),
           let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
           let colon = decoded.firstIndex(of: ":") {
            return (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
        }
        guard let id = string("client_id"), let secret = string("client_secret") else { return nil }
        return (id, secret)
    }
}
