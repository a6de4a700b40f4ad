package user

import "time"

// Dashboard windows. They are part of the dashboard's definition, so they
// are constants rather than options.
const (
	// DashboardDays is the number of UTC days in Dashboard.SignupsLast30Days.
	DashboardDays = 30
	// NewestCount is the number of users in Dashboard.Newest.
	NewestCount = 5
	// NewUsersWindow is the rolling window of Dashboard.NewUsersLast7Days.
	NewUsersWindow = 7 * 24 * time.Hour
)

// DayLayout is the layout of DayCount.Day, for time.Format and time.Parse.
const DayLayout = "2006-01-02"

// SignupDays returns the zero-filled skeleton of Dashboard.SignupsLast30Days
// for a dashboard generated at now: DashboardDays entries, oldest first,
// the last one being now's UTC day, and the instant the first day starts.
// Implementations of Service fill in the counts from their own aggregates,
// which only report days that have signups.
func SignupDays(now time.Time) (start time.Time, days []DayCount) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	start = today.AddDate(0, 0, -(DashboardDays - 1))
	days = make([]DayCount, DashboardDays)
	for i := range days {
		days[i].Day = start.AddDate(0, 0, i).Format(DayLayout)
	}
	return start, days
}
