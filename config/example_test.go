package config_test

import (
	"fmt"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/config"
)

func ExampleConfig_Open() {
	// In a service: cfg, err := config.Load() reads the environment and .env.
	var cfg config.Config
	if err := config.Parse(&cfg, map[string]string{"DEBUG": "False", "CACHE_NAMESPACE": "shop"}); err != nil {
		panic(err)
	}
	c, err := cfg.Open(nil, larder.Options{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Mode(), c.Namespace())
	// Output: memory shop
}

func ExampleConfig_String() {
	var cfg config.Config
	_ = config.Parse(&cfg, map[string]string{"REDIS_URL": "redis://app:s3cret@cache:6379/1"})
	fmt.Println(cfg)
	// Output: mode=redis namespace=larder default_ttl=1h0m0s timeout=50ms redis_url=redis://app:xxxxx@cache:6379/1 redis_max_connections=10 local_max_bytes=64MiB
}
