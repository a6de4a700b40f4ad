package larder

// SetFillHook installs fn to run between a Fetch's load and its fill (the
// compare-and-swap of the lease for the value), so that tests can force an
// invalidation into exactly that window. It must be called before c is
// used concurrently.
func SetFillHook(c *Cache, fn func(fullKey string)) { c.fill.hook = fn }
