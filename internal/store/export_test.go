package store

// AfterList sets a hook that runs after each listing of the files: the
// tests rotate, compress or swap files there, between a listing and the
// opens that follow it.
func AfterList(st *Store, fn func()) { st.afterList = fn }
