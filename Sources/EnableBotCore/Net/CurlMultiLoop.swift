import CCurl
import Foundation
import Synchronization

/// curl_global_init is not thread-safe and must run once, before any other curl call (curl_easy_init would otherwise
/// run it implicitly, racing); a Swift global is initialised exactly once, thread-safely. Touch it before using curl.
let curlGlobalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_ALL))

/// The thread that owns a curl multi handle and drives every transfer of one client, event-driven: curl names the
/// sockets it waits on (`CURLMOPT_SOCKETFUNCTION`), an epoll set watches them, and only a socket that is ready is
/// handed back to curl (`curl_multi_socket_action`). With `curl_multi_perform` every wakeup visited every transfer
/// in flight and `poll()`ed its socket: with a slow model, hundreds of idle calls per wakeup (at 800 events/s and a
/// 1 s model that loop took half a core; this one a quarter).
///
/// Other threads only hand transfers over (or ask for their cancellation) through a locked inbox and wake the thread
/// through an eventfd in the same epoll set. The wakeup happens under the same lock that `stopping` is set under, so
/// it never reaches a descriptor the loop has already closed.
final class CurlMultiLoop: @unchecked Sendable {
    private struct Inbox {
        var submitted: [CurlTransfer] = []
        var cancelled: [CurlTransfer] = []
        var stopping = false
    }

    private let multi: UnsafeMutableRawPointer
    private let epoll: Int32
    private let wakeup: Int32
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
        epoll = ccurl_epoll_create()
        wakeup = ccurl_eventfd()
        guard epoll >= 0, wakeup >= 0, ccurl_epoll_watch(epoll, wakeup, 1, 0, 0) == 0 else {
            fatalError("epoll_create1/eventfd/epoll_ctl failed: errno \(errno)")
        }
        // Called back on the loop thread only, from inside curl_multi_* calls, while the loop (and so `self`) lives.
        _ = ccurl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = ccurl_multi_setopt_socket_function(multi) { _, socket, what, loop, known in
            guard let loop else { return -1 }
            Unmanaged<CurlMultiLoop>.fromOpaque(loop).takeUnretainedValue().watch(socket, what, known: known != nil)
            return 0
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
            wake()
            return true
        }
    }

    /// Asks the loop to abort `transfer` and fail it with `.cancelled`, wherever it is.
    func cancel(_ transfer: CurlTransfer) {
        transfer.markCancelled()
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.cancelled.append(transfer)
            wake()
        }
    }

    /// Stops the loop, failing every unfinished transfer with `.shutDown`, and waits until the thread is done.
    /// Idempotent; every call returns only after the thread has finished.
    func shutdown() {
        inbox.withLock { inbox in
            guard !inbox.stopping else { return }
            inbox.stopping = true
            wake()
        }
        exited.wait()
        exited.signal()  // lets the next caller through too
    }

    // MARK: Loop thread

    /// Call with the inbox locked (see the type's comment).
    private func wake() {
        var one: UInt64 = 1
        _ = write(wakeup, &one, MemoryLayout<UInt64>.size)
    }

    private func run() {
        var sockets = [Int32](repeating: 0, count: 256)
        var masks = [Int32](repeating: 0, count: 256)
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
            // curl's next deadline, asked each turn rather than kept from CURLMOPT_TIMERFUNCTION: curl does not name a
            // deadline twice, so one checked a millisecond early would be lost. Capped at a second, as a safety net.
            var timeout = -1
            _ = curl_multi_timeout(multi, &timeout)
            let ready = ccurl_epoll_wait(epoll, &sockets, &masks, Int32(sockets.count), Int32(timeout < 0 ? 1000 : min(timeout, 1000)))
            if ready < 0, errno != EINTR {
                usleep(10_000)  // never expected; keeps a broken epoll set from spinning the CPU
            }
            for index in 0..<max(Int(ready), 0) {
                if sockets[index] == wakeup {
                    var count: UInt64 = 0
                    _ = read(wakeup, &count, MemoryLayout<UInt64>.size)
                } else {
                    _ = curl_multi_socket_action(multi, sockets[index], masks[index], &running)
                }
            }
            // Due timers (connects, timeouts, a transfer just added) run after the sockets, never instead of them.
            _ = curl_multi_timeout(multi, &timeout)
            if timeout == 0 { _ = curl_multi_socket_action(multi, CURL_SOCKET_BAD, 0, &running) }  // CURL_SOCKET_TIMEOUT
            collectFinished()
        }
        curl_multi_cleanup(multi)
        close(epoll)
        close(wakeup)
    }

    /// curl's socket callback: watch `socket` for what curl waits on, or stop watching it. `known`: curl holds our
    /// mark for the socket (`curl_multi_assign`), so it is in the epoll set already; curl drops the mark on removal.
    private func watch(_ socket: Int32, _ what: Int32, known: Bool) {
        if what == CURL_POLL_REMOVE {
            _ = ccurl_epoll_unwatch(epoll, socket)  // fails harmlessly when the socket is closed already
            return
        }
        _ = ccurl_epoll_watch(epoll, socket, what & CURL_POLL_IN, what & CURL_POLL_OUT, known ? 1 : 0)
        if !known { _ = curl_multi_assign(multi, socket, UnsafeMutableRawPointer(bitPattern: 1)) }  // any non-nil mark
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
