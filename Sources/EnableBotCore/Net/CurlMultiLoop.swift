import CCurl
import Foundation
import Synchronization

/// curl_global_init is not thread-safe and must run once, before any other curl call (curl_easy_init would otherwise
/// run it implicitly, racing); a Swift global is initialised exactly once, thread-safely. Touch it before using curl.
let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// The thread that owns a curl multi handle and drives every transfer of one client with `curl_multi_poll`.
///
/// Other threads only hand transfers over (or ask for their cancellation) through a locked inbox and wake the thread
/// with `curl_multi_wakeup`, which curl allows from any thread. The wakeup happens under the same lock that
/// `stopping` is set under, so it never reaches a multi handle the loop has already cleaned up.
final class CurlMultiLoop: @unchecked Sendable {
    private struct Inbox {
        var submitted: [CurlTransfer] = []
        var cancelled: [CurlTransfer] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex(Inbox())
    private let exited = DispatchSemaphore(value: 0)
    /// Transfers added to the multi handle, by easy handle. Loop thread only.
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    init(maxConnectionsPerHost: Int) {
        _ = curlGlobalInit
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        if maxConnectionsPerHost > 0 {
            _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        }
        let thread = Thread { [self] in
            nameCurrentThread("curl-multi")
            self.run()
            self.exited.signal()
        }
        thread.start()
    }

    /// Hands `transfer` to the loop. Returns false if the loop has stopped; the caller still owns the transfer then.
    func submit(_ transfer: CurlTransfer) -> Bool {
        inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            inbox.submitted.append(transfer)
            curl_multi_wakeup(multi)
            return true
        }
    }

    /// Asks the loop to abort `transfer` and fail it with `.cancelled`, wherever it is.
    func cancel(_ transfer: CurlTransfer) {
        transfer.markCancelled()
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.cancelled.append(transfer)
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the loop, failing every unfinished transfer with `.shutDown`, and waits until the thread is done.
    /// Idempotent; every call returns only after the thread has finished.
    func shutdown() {
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.stopping = true
            curl_multi_wakeup(multi)
        }
        exited.wait()
        exited.signal()  // lets the next caller through too
    }

    // MARK: Loop thread

    private func run() {
        var running: Int32 = 0
        while true {
            let (submitted, cancelled, stopping) = inbox.withLock { inbox in
                defer {
                    inbox.submitted.removeAll()
                    inbox.cancelled.removeAll()
                }
                return (inbox.submitted, inbox.cancelled, inbox.stopping)
            }
            if stopping {
                stopAll(submitted: submitted)
                break
            }
            for transfer in submitted { start(transfer) }
            for transfer in cancelled { abort(transfer, with: .cancelled) }
            _ = curl_multi_perform(multi, &running)
            collectFinished()
            // Returns early on socket activity, a curl timer, or curl_multi_wakeup.
            if curl_multi_poll(multi, nil, 0, 1000, nil) != CURLM_OK {
                usleep(10_000)  // never expected; keeps a broken multi handle from spinning the CPU
            }
        }
        curl_multi_cleanup(multi)
    }

    private func start(_ transfer: CurlTransfer) {
        // Cancelled between handing over and now: curl never sees it.
        if transfer.isCancelled {
            transfer.release()
            transfer.finish(.failure(.cancelled))
            return
        }
        let code = curl_multi_add_handle(multi, transfer.easy)
        guard code == CURLM_OK else {
            transfer.release()
            let detail = String(cString: curl_multi_strerror(code))
            transfer.finish(.failure(HTTPClientError.transport.with(detail: detail)))
            return
        }
        active[transfer.easy] = transfer
    }

    private func abort(_ transfer: CurlTransfer, with error: HTTPClientError) {
        // Not active: already finished, or started after this request and so handled by start(). A finished
        // transfer's handle address may already belong to a newer transfer: compare identity, not the address.
        guard let current = active[transfer.easy], current === transfer else { return }
        active[transfer.easy] = nil
        curl_multi_remove_handle(multi, transfer.easy)
        transfer.release()
        transfer.finish(.failure(error))
    }

    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE,
                let easy = message.pointee.easy_handle,
                let transfer = active.removeValue(forKey: easy)
            else { continue }
            // Read everything before remove_handle, which invalidates the message.
            let outcome = transfer.outcome(message.pointee.data.result)
            curl_multi_remove_handle(multi, easy)
            transfer.release()
            transfer.finish(outcome)
        }
    }

    private func stopAll(submitted: [CurlTransfer]) {
        for transfer in submitted {
            transfer.release()
            transfer.finish(.failure(.shutDown))
        }
        for transfer in Array(active.values) {
            abort(transfer, with: .shutDown)
        }
    }
}
