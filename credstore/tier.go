package credstore

// tierState holds the credentials of one tier (the session tier in memory,
// or the permanent tier) keyed by normalised space. Invariant: a space's
// default user, when set, is one of its users; a space with no users is
// absent.
type tierState struct {
	spaces map[ProtectionSpace]*spaceState
	// held are permanent credentials whose password is in the Secret
	// Service but could not be fetched (the service is not in use or not
	// answering). They are not shown, and are written back as they were
	// read until a change to the same user and space replaces them.
	held map[recKey]record
}

// recKey identifies a credential: normalised space and user name.
type recKey struct {
	space ProtectionSpace
	user  string
}

type spaceState struct {
	users  map[string]string // user name -> password
	def    string            // default user name, meaningful when hasDef
	hasDef bool
}

func newTier() *tierState {
	return &tierState{spaces: map[ProtectionSpace]*spaceState{}, held: map[recKey]record{}}
}

func (t *tierState) clone() *tierState {
	c := newTier()
	for sp, ss := range t.spaces {
		n := &spaceState{users: make(map[string]string, len(ss.users)), def: ss.def, hasDef: ss.hasDef}
		for u, p := range ss.users {
			n.users[u] = p
		}
		c.spaces[sp] = n
	}
	for k, r := range t.held {
		c.held[k] = r
	}
	return c
}

func (t *tierState) empty() bool { return len(t.spaces) == 0 && len(t.held) == 0 }

// hold keeps r, whose password could not be fetched, in place of any
// credential of the same user and space.
func (t *tierState) hold(r record) {
	t.del(r.space, r.user)
	t.held[recKey{r.space, r.user}] = r
}

// holds reports whether a held credential of user is in sp.
func (t *tierState) holds(sp ProtectionSpace, user string) bool {
	_, ok := t.held[recKey{sp, user}]
	return ok
}

func (t *tierState) get(sp ProtectionSpace, user string) (string, bool) {
	ss := t.spaces[sp]
	if ss == nil {
		return "", false
	}
	p, ok := ss.users[user]
	return p, ok
}

// set stores user's password and reports whether anything changed.
func (t *tierState) set(sp ProtectionSpace, user, password string) bool {
	_, held := t.held[recKey{sp, user}]
	delete(t.held, recKey{sp, user})
	ss := t.spaces[sp]
	if ss == nil {
		ss = &spaceState{users: map[string]string{}}
		t.spaces[sp] = ss
	}
	old, ok := ss.users[user]
	ss.users[user] = password
	return held || !ok || old != password
}

// del removes user (and the default when it names user) and reports whether
// anything changed.
func (t *tierState) del(sp ProtectionSpace, user string) bool {
	if _, ok := t.held[recKey{sp, user}]; ok {
		delete(t.held, recKey{sp, user})
		return true
	}
	ss := t.spaces[sp]
	if ss == nil {
		return false
	}
	if _, ok := ss.users[user]; !ok {
		return false
	}
	delete(ss.users, user)
	if ss.hasDef && ss.def == user {
		ss.hasDef, ss.def = false, ""
	}
	if len(ss.users) == 0 {
		delete(t.spaces, sp)
	}
	return true
}

func (t *tierState) defaultUser(sp ProtectionSpace) (string, bool) {
	ss := t.spaces[sp]
	if ss == nil || !ss.hasDef {
		return "", false
	}
	return ss.def, true
}

// setDefault makes user, who must be stored, the default; it reports whether
// anything changed.
func (t *tierState) setDefault(sp ProtectionSpace, user string) bool {
	ss := t.spaces[sp]
	if ss == nil {
		return false
	}
	if _, ok := ss.users[user]; !ok {
		return false
	}
	if ss.hasDef && ss.def == user {
		return false
	}
	ss.def, ss.hasDef = user, true
	// A default that is shown replaces a held one.
	for k, r := range t.held {
		if k.space == sp && r.isDefault {
			r.isDefault = false
			t.held[k] = r
		}
	}
	return true
}

func (t *tierState) clearDefault(sp ProtectionSpace) bool {
	ss := t.spaces[sp]
	if ss == nil || !ss.hasDef {
		return false
	}
	ss.def, ss.hasDef = "", false
	return true
}

func (t *tierState) equal(o *tierState) bool {
	if len(t.spaces) != len(o.spaces) || len(t.held) != len(o.held) {
		return false
	}
	for k, r := range t.held {
		if q, ok := o.held[k]; !ok || q != r {
			return false
		}
	}
	for sp, a := range t.spaces {
		b := o.spaces[sp]
		if b == nil || a.hasDef != b.hasDef || a.def != b.def || len(a.users) != len(b.users) {
			return false
		}
		for u, p := range a.users {
			if q, ok := b.users[u]; !ok || p != q {
				return false
			}
		}
	}
	return true
}

// spaceView is what a Store shows for one space: the two tiers merged.
type spaceView struct {
	creds  map[string]Credential
	def    string
	hasDef bool
}

// mergeSpace merges the tiers for sp. A session entry overrides a permanent
// one for the same user (within one Store they never coexist; across
// processes they can), and a session default overrides a permanent default.
func mergeSpace(session, perm *tierState, sp ProtectionSpace) spaceView {
	var v spaceView
	add := func(t *tierState, p Persistence) {
		ss := t.spaces[sp]
		if ss == nil {
			return
		}
		if v.creds == nil {
			v.creds = make(map[string]Credential, len(ss.users))
		}
		for u, pw := range ss.users {
			v.creds[u] = Credential{User: u, Password: pw, Persistence: p}
		}
	}
	add(perm, Permanent)
	add(session, ForSession)
	if u, ok := session.defaultUser(sp); ok {
		v.def, v.hasDef = u, true
	} else if u, ok := perm.defaultUser(sp); ok {
		v.def, v.hasDef = u, true
	}
	return v
}

func (v spaceView) equal(o spaceView) bool {
	if v.hasDef != o.hasDef || v.def != o.def || len(v.creds) != len(o.creds) {
		return false
	}
	for u, c := range v.creds {
		if d, ok := o.creds[u]; !ok || c != d {
			return false
		}
	}
	return true
}
