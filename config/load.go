package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
	"github.com/larderhq/larder"
)

// Load reads the cache configuration from the process environment and, when
// present, ./.env, then validates it.
func Load() (Config, error) {
	vars, err := Environ(os.Environ(), ".env")
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := Parse(&c, vars); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// Environ merges the variables of envFile (a .env file; empty or missing
// means none) with environ (KEY=VALUE strings, as from os.Environ). The real
// environment wins over the file.
func Environ(environ []string, envFile string) (map[string]string, error) {
	vars := map[string]string{}
	if envFile != "" {
		file, err := godotenv.Read(envFile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("%w: reading %s: %w", larder.ErrInvalidOptions, envFile, err)
		}
		for k, v := range file {
			vars[k] = v
		}
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// Parse fills dst, a pointer to a struct with `env` and `envDefault` tags
// (Config, or a service's own settings embedding it), from vars. An error
// names the variable that failed to parse and wraps
// larder.ErrInvalidOptions; it never repeats the variable's value, which
// may be a secret.
func Parse(dst any, vars map[string]string) error {
	err := env.ParseWithOptions(dst, env.Options{Environment: vars})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		var pe env.ParseError
		if errors.As(agg.Errors[0], &pe) {
			name := envName(reflect.TypeOf(dst), pe.Name)
			return fmt.Errorf("%w: %s: not a valid %s", larder.ErrInvalidOptions, name, kindOf(pe.Type))
		}
	}
	return fmt.Errorf("%w: %w", larder.ErrInvalidOptions, err)
}

// envName finds the env tag of the field called field in t or the structs
// it embeds; it falls back to the field name.
func envName(t reflect.Type, field string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return field
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name == field {
			if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
				return tag
			}
		}
		if f.Type.Kind() == reflect.Struct {
			if name := envName(f.Type, field); name != field {
				return name
			}
		}
	}
	return field
}

func kindOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(ByteSize(0)):
		return "size (bytes, or a number with KiB, MiB, GiB)"
	case t.String() == "time.Duration":
		return "duration (like 50ms, 10s, 1h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "whole number"
	}
	return t.String()
}
