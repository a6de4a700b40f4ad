package httpapi

import (
	"net/http"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
)

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var in user.NewUser
	if err := decodeBody(w, r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	u, err := a.users.Create(r.Context(), in)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	w.Header().Set("Location", v1+"/users/"+itoa(u.ID))
	writeJSON(w, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	if u, ok := a.readUser(w, r); ok {
		writeJSON(w, http.StatusOK, u)
	}
}

// readUser answers the {user_id} of r through the cache, setting the
// Cache-Status header; on failure it has written the error and reports
// false.
func (a *API) readUser(w http.ResponseWriter, r *http.Request) (user.User, bool) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return user.User{}, false
	}
	r, report := track(r)
	u, err := a.users.Get(r.Context(), id)
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return user.User{}, false
	}
	return u, true
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	var in user.Update
	if u, ok := a.writeUser(w, r, &in, func() user.Update { return in }); ok {
		writeJSON(w, http.StatusOK, u)
	}
}

// writeUser decodes r's body into body, applies the update that toUpdate
// makes of it to the {user_id} of r, and returns the updated user; on
// failure it has written the error and reports false.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, body any, toUpdate func() user.Update) (user.User, bool) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return user.User{}, false
	}
	if err := decodeBody(w, r, body); err != nil {
		a.writeErr(w, r, err)
		return user.User{}, false
	}
	u, err := a.users.Update(r.Context(), id, toUpdate())
	if err != nil {
		a.writeErr(w, r, err)
		return user.User{}, false
	}
	return u, true
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	if err := a.users.Delete(r.Context(), id); err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "User deleted"})
}

// Profile is the public view of a user served by the profile examples.
type Profile struct {
	UserID      int64     `json:"user_id"`
	Name        string    `json:"name"`
	Bio         string    `json:"bio"`
	MemberSince time.Time `json:"member_since"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ProfileUpdate is the body of PUT …/profile: the fields a user edits on
// their profile; nil leaves a field unchanged.
type ProfileUpdate struct {
	Name *string `json:"name,omitempty"`
	Bio  *string `json:"bio,omitempty"`
}

func profileOf(u user.User) Profile {
	return Profile{UserID: u.ID, Name: u.Name, Bio: u.Bio, MemberSince: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	if u, ok := a.readUser(w, r); ok {
		writeJSON(w, http.StatusOK, profileOf(u))
	}
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	var in ProfileUpdate
	if u, ok := a.writeUser(w, r, &in, func() user.Update { return user.Update{Name: in.Name, Bio: in.Bio} }); ok {
		writeJSON(w, http.StatusOK, profileOf(u))
	}
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	page, err := queryInt(r, "page", 1)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	size, err := queryInt(r, "size", 20)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	r, report := track(r)
	p, err := a.users.List(r.Context(), page, size)
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) dashboard(w http.ResponseWriter, r *http.Request) {
	r, report := track(r)
	d, err := a.users.Dashboard(r.Context())
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if err := a.db.Ping(r.Context()); err != nil {
		a.log.Warn("readiness: database unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
