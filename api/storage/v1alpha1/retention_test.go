package v1alpha1_test

import (
	"testing"
	"time"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestRetentionPeriodDuration(t *testing.T) {
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 30 * day
		year  = 365 * day
	)
	tests := map[string]struct {
		period  storagev1alpha1.RetentionPeriod
		want    time.Duration
		wantErr bool
	}{
		"days hours minutes":          {period: "30d12h30m", want: 30*day + 12*time.Hour + 30*time.Minute},
		"years and months":            {period: "1y6mo", want: year + 6*month},
		"weeks":                       {period: "2w", want: 2 * week},
		"mo is months":                {period: "1mo", want: month},
		"m is minutes":                {period: "1m", want: time.Minute},
		"months then minutes":         {period: "2mo5m", want: 2*month + 5*time.Minute},
		"every unit, largest first":   {period: "1y1mo1w1d1h1m", want: year + month + week + day + time.Hour + time.Minute},
		"a unit may exceed the next":  {period: "90m", want: 90 * time.Minute},
		"multi-digit years":           {period: "10y", want: 10 * year},
		"zero is allowed":             {period: "0d", want: 0},
		"leading zeros":               {period: "07d", want: 7 * day},
		"largest whole hours":         {period: "2562047h", want: 2562047 * time.Hour},
		"largest whole minutes":       {period: "153722867m", want: 153722867 * time.Minute},
		"largest sum of hours+minute": {period: "2562047h47m", want: 2562047*time.Hour + 47*time.Minute},
		"292 years fit":               {period: "292y", want: 292 * year},

		"empty":                         {period: "", wantErr: true},
		"number without unit":           {period: "5", wantErr: true},
		"unknown unit":                  {period: "1x", wantErr: true},
		"seconds are not a unit":        {period: "30s", wantErr: true},
		"upper-case M":                  {period: "1M", wantErr: true},
		"minutes before hours":          {period: "1m1h", wantErr: true},
		"days before weeks":             {period: "1d1w", wantErr: true},
		"months before years":           {period: "1mo1y", wantErr: true},
		"repeated unit":                 {period: "1d1d", wantErr: true},
		"unit without number":           {period: "d", wantErr: true},
		"mo without number":             {period: "mo", wantErr: true},
		"negative":                      {period: "-1d", wantErr: true},
		"fraction":                      {period: "1.5h", wantErr: true},
		"space inside":                  {period: "1d 2h", wantErr: true},
		"trailing newline":              {period: "1d\n", wantErr: true},
		"trailing garbage":              {period: "1dx", wantErr: true},
		"Go duration syntax":            {period: "1h30m0s", wantErr: true},
		"one year too many overflows":   {period: "293y", wantErr: true},
		"one hour too many overflows":   {period: "2562048h", wantErr: true},
		"one minute too many overflows": {period: "153722868m", wantErr: true},
		"sum of units overflows":        {period: "2562047h48m", wantErr: true},
		"sum of years and months":       {period: "292y6mo", wantErr: true},
		// 307445735 minutes is 2^64 ns plus about 26s: unchecked, it would wrap to 26s.
		"minutes that wrap around int64": {period: "307445735m", wantErr: true},
		"number too big for int64":       {period: "99999999999999999999d", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.period.Duration()
			if tc.wantErr {
				if err == nil {
					t.Errorf("Duration(%q) = %v, want an error", tc.period, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Duration(%q) error: %v", tc.period, err)
			}
			if got != tc.want {
				t.Errorf("Duration(%q) = %v, want %v", tc.period, got, tc.want)
			}
		})
	}
}
