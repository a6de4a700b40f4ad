package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/user"
)

// errBadRequest marks input the handlers reject before the service sees it
// (a malformed id, query or body); it maps to 422 like a validation error.
var errBadRequest = errors.New("invalid request")

// errTooLarge marks a body over the limit.
var errTooLarge = errors.New("request body too large")

// status maps an error to its HTTP status: the one place that does.
func status(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, user.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, user.ErrInvalid), errors.Is(err, errBadRequest),
		errors.Is(err, larder.ErrInvalidPattern), errors.Is(err, larder.ErrInvalidKey):
		return http.StatusUnprocessableEntity
	case errors.Is(err, user.ErrDuplicateEmail):
		return http.StatusConflict
	case errors.Is(err, errTooLarge), errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, larder.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this status, but it must not
		// count as a server error.
		return 499
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// writeErr answers with err's status and a detail; unexpected errors are
// logged and their text is not shown to the client.
func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	var detail any = err.Error()
	var ve *user.ValidationError
	switch {
	case errors.As(err, &ve):
		detail = ve.Fields
	case code == http.StatusNotFound:
		detail = "User not found"
	case code == http.StatusConflict:
		detail = "Email already registered"
	case code == http.StatusRequestEntityTooLarge:
		detail = "Request body too large (limit 1 MiB)"
	case code >= 500:
		a.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		detail = http.StatusText(code)
	}
	writeDetail(w, code, detail)
}
