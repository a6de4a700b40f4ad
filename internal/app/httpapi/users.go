package httpapi

import (
	"net/http"
	"time"

	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/internal/app/user"
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
	cacheadmin.WriteJSON(w, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	r, report := track(r)
	u, err := a.users.Get(r.Context(), id)
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, u)
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	var in user.Update
	if err := decodeBody(w, r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	u, err := a.users.Update(r.Context(), id, in)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, u)
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
	cacheadmin.WriteJSON(w, http.StatusOK, map[string]string{"message": "User deleted"})
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
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	r, report := track(r)
	u, err := a.users.Get(r.Context(), id)
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, profileOf(u))
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	var in ProfileUpdate
	if err := decodeBody(w, r, &in); err != nil {
		a.writeErr(w, r, err)
		return
	}
	u, err := a.users.Update(r.Context(), id, user.Update{Name: in.Name, Bio: in.Bio})
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, profileOf(u))
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
	cacheadmin.WriteJSON(w, http.StatusOK, p)
}

func (a *API) dashboard(w http.ResponseWriter, r *http.Request) {
	r, report := track(r)
	d, err := a.users.Dashboard(r.Context())
	report(w)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, d)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	cacheadmin.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if err := a.db.Ping(r.Context()); err != nil {
		a.log.Warn("readiness: database unreachable", "err", err)
		cacheadmin.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "detail": "database unreachable"})
		return
	}
	cacheadmin.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
