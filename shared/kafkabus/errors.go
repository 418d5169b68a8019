package kafkabus

import (
	"errors"

	"github.com/ratewire/ratewire/shared/event"
)

// permanentError marks a handler error that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (a record that refers
// to something that will never exist, a business rule it breaks): the
// Consumer sends the message to its dead-letter topic at once, with error
// class "permanent", instead of retrying it. Errors wrapping
// event.ErrInvalid are treated the same way without being marked, with
// class "invalid". Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// classify returns the dead-letter error class of a handler error and
// whether it may be retried.
func classify(err error) (class string, retriable bool) {
	switch {
	case errors.Is(err, event.ErrInvalid):
		return event.DLQClassInvalid, false
	case IsPermanent(err):
		return event.DLQClassPermanent, false
	default:
		// Everything else, timeouts, io.EOF and broker errors included,
		// might pass.
		return event.DLQClassTransient, true
	}
}
