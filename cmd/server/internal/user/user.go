package user

import "time"

// User is a person known to the service. Its JSON form is the body of the
// service's responses and of cache entries.
type User struct {
	// ID is assigned by the database on creation and never reused.
	ID int64 `json:"id"`
	// Name is what the user is called, 1 to MaxNameLen characters.
	Name string `json:"name"`
	// Email is unique without regard to case; the database keeps it in lower case.
	Email string `json:"email"`
	// Bio is free text of at most MaxBioLen characters; it may be empty.
	Bio string `json:"bio"`
	// CreatedAt is when the user was created, in UTC.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the user was last changed, in UTC; it equals
	// CreatedAt until the first update. It is for display: it never goes
	// backwards, but two updates may share it.
	UpdatedAt time.Time `json:"updated_at"`
	// Version counts the changes of the user: 1 on creation, one more with
	// each update, in the order the store commits them. It is what caches
	// compare, so that a delayed write of an older version never replaces
	// a newer one.
	Version int64 `json:"version"`
}

// NewUser is the input of Service.Create.
type NewUser struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Bio   string `json:"bio"`
}

// Update is the input of Service.Update, a partial update: a nil field is
// left unchanged, a non-nil one replaces the stored value (a pointer to ""
// clears the bio). An Update with every field nil changes nothing.
type Update struct {
	Name  *string `json:"name,omitempty"`
	Email *string `json:"email,omitempty"`
	Bio   *string `json:"bio,omitempty"`
}

// IsEmpty reports whether the update changes no field. Service.Update
// returns the stored user untouched for such an update, without bumping
// Version or UpdatedAt, so a client that sends an empty PATCH causes no
// write.
func (u Update) IsEmpty() bool {
	return u.Name == nil && u.Email == nil && u.Bio == nil
}

// Page is one page of the list of users, ordered by id ascending.
type Page struct {
	// Users holds at most Size users; it is empty, not nil, for a page past
	// the last one.
	Users []User `json:"users"`
	// Total is the number of users in the whole list.
	Total int `json:"total"`
	// Page is the 1-based number of this page.
	Page int `json:"page"`
	// Size is the number of users per page that was asked for.
	Size int `json:"size"`
}

// Pages returns the number of pages needed to list Total users at Size per
// page: 0 when there are no users.
func (p Page) Pages() int {
	if p.Size <= 0 {
		return 0
	}
	return (p.Total + p.Size - 1) / p.Size
}

// DayCount is the number of users created on one UTC calendar day.
type DayCount struct {
	// Day is the date in the form "2006-01-02", in UTC.
	Day string `json:"day"`
	// Count is the number of users whose CreatedAt falls on Day.
	Count int `json:"count"`
}

// Dashboard summarises the users at one moment, GeneratedAt. It is costly to
// compute on a large table, which is what makes it worth caching.
type Dashboard struct {
	// TotalUsers is the number of users.
	TotalUsers int `json:"total_users"`
	// SignupsLast30Days has exactly DashboardDays entries, one per UTC day,
	// oldest first, ending with the day of GeneratedAt; days without
	// signups have a Count of zero.
	SignupsLast30Days []DayCount `json:"signups_last_30_days"`
	// NewUsersLast7Days counts the users created at or after GeneratedAt
	// minus seven days (a rolling window, not calendar days).
	NewUsersLast7Days int `json:"new_users_last_7_days"`
	// Newest holds the NewestCount most recently created users, newest
	// first; users created at the same instant are ordered by id, highest
	// first.
	Newest []User `json:"newest_users"`
	// GeneratedAt is when the dashboard was computed, in UTC.
	GeneratedAt time.Time `json:"generated_at"`
}
