module github.com/larderhq/larder

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/maypok86/otter/v2 v2.4.0
	github.com/redis/rueidis v1.0.79
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
)

require (
	golang.org/x/net v0.59.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
