import HTTPTypes

// Hummingbird re-exports HTTPTypes' `HTTPRequest`/`HTTPResponse`, and EnableBotCore has its own outbound
// `HTTPRequest`/`HTTPResponse`: these names keep the web module unambiguous.
typealias HTTPStatus = HTTPTypes.HTTPResponse.Status
typealias HTTPFieldName = HTTPTypes.HTTPField.Name
