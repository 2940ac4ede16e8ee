/// Cookie names, in one place.
enum CookieName {
    static let session = "eb_session"
    static let installState = "eb_install_state"
    static let signInState = "eb_signin_state"
    static let loginNonce = "eb_login"
}
