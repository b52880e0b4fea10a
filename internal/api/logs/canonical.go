package logs

import (
	"net/http"
	"path"
	"strings"

	"github.com/trailcar/trailcar/internal/jsonhttp"
)

// CanonicalPathsOnly answers 404 to a request whose path is not in
// canonical form ("." or ".." segments, "//"), and passes the others to
// next. http.ServeMux would instead redirect such a path to its cleaned
// form, so /api/v3/logs/../../etc/passwd would get a redirect rather than
// the 404 any name outside the listed files gets. Wrap the admin mux in it.
func CanonicalPathsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !canonical(r.URL.EscapedPath()) {
			jsonhttp.Error(w, http.StatusNotFound, "not found")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonical reports whether p is what ServeMux's cleaning leaves unchanged.
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}
