package worker

// SetExtensionWait makes r call f(m) whenever something about to change
// m's visibility (a heartbeat stopping, a Nack, a give-back) has to wait for
// an extension of m still in flight. Set it before Run; for tests that must
// tell "waits for the extension" from "does not".
func SetExtensionWait(r *Runner, f func(m *Message)) { r.extWait = f }
