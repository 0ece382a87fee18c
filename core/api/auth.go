package api

import "time"

// AuthorizerCacheSeconds bounds how long a disabled or removed user keeps
// access: API Gateway (and the local gateway) reuse an Authorization header's
// verdict this long. One minute costs at most one authorizer call per user
// and minute (the original cached 3000 s).
const AuthorizerCacheSeconds = 60

// AuthorizerCacheTTL is AuthorizerCacheSeconds as a duration.
const AuthorizerCacheTTL = AuthorizerCacheSeconds * time.Second
