module github.com/larderhq/larder/config

go 1.26.0

replace github.com/larderhq/larder => ../

require (
	github.com/caarlos0/env/v11 v11.4.2
	github.com/joho/godotenv v1.5.1
	github.com/larderhq/larder v0.0.0-00010101000000-000000000000
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/redis/rueidis v1.0.79 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
