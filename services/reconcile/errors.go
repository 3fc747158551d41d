package reconcile

import "errors"

// TerminalError marks err as one that retrying will not fix (an object
// that does not decode, a spec no decision can satisfy): the loop logs it
// and drops the key until a change to the log wakes it again, as
// controller-runtime's reconcile.TerminalError does. Any other error is
// retried with backoff. TerminalError(nil) is nil.
func TerminalError(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err}
}

// IsTerminal reports whether err, or an error it wraps, is terminal.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}

type terminalError struct{ err error }

func (e *terminalError) Error() string { return "terminal: " + e.err.Error() }
func (e *terminalError) Unwrap() error { return e.err }
