package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// decodeBody reads one JSON object into dst, refusing unknown fields, trailing
// data and bodies over maxBody.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength > maxBody {
		return errTooLarge
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errTooLarge
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%w: a JSON body is required", errBadRequest)
		}
		return fmt.Errorf("%w: body: %s", errBadRequest, jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return fmt.Errorf("%w: body: unexpected data after the JSON object", errBadRequest)
	}
	return nil
}

// jsonProblem phrases a decoding error for a client, without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return "must be a JSON object"
		}
		return fmt.Sprintf("field %q must be a %s", te.Field, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return err.Error() // e.g. `json: unknown field "x"`
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return "JSON " + goKind
}

// pathID reads the {user_id} path value: a positive integer.
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("user_id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%w: user_id %q must be a positive integer", errBadRequest, raw)
	}
	return id, nil
}

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("%w: query parameter %s=%q must be an integer", errBadRequest, name, raw)
	}
	return n, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
