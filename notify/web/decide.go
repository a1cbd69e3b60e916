package web

import (
	"errors"
	"net/http"

	"github.com/goodturn/goodturn/engine/store"
	"github.com/goodturn/goodturn/notify/review"
	"github.com/goodturn/goodturn/notify/review/reviewdb"
)

// maxComment is the longest comment the review records, in bytes.
const maxComment = 4000

// decide serves POST /decide: approve or reject (field action) a batch
// RUN/RULE or a proposal id (field target) with an optional comment, as
// the logged-in user, then returns to the page it came from (field back)
// with what happened. A viewer is refused with 403; a decision the review
// refuses (nothing pending, the same reviewer twice) is reported on the
// page.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, u *reviewdb.User) {
	if !u.CanDecide() {
		s.fail(w, r, u, http.StatusForbidden, u.Name+" is a "+u.Role+"; only reviewers and admins may approve or reject.")
		return
	}
	action := r.PostFormValue("action")
	if action != review.ActionApprove && action != review.ActionReject {
		s.fail(w, r, u, http.StatusBadRequest, "Say approve or reject.")
		return
	}
	target, err := review.ParseTarget(r.PostFormValue("target"))
	if err != nil {
		s.fail(w, r, u, http.StatusBadRequest, err.Error())
		return
	}
	back := localPath(r.PostFormValue("back"))
	comment := r.PostFormValue("comment")
	if len(comment) > maxComment {
		s.fail(w, r, u, http.StatusBadRequest, "The comment is too long: at most 4000 bytes.")
		return
	}
	var out review.Outcome
	if action == review.ActionApprove {
		out, err = s.cfg.Review.Approve(r.Context(), u, target, comment)
	} else {
		out, err = s.cfg.Review.Reject(r.Context(), u, target, comment)
	}
	switch {
	case err == nil:
		s.setFlash(w, r, out.String(), false)
	case errors.Is(err, review.ErrForbidden):
		s.fail(w, r, u, http.StatusForbidden, err.Error())
		return
	case errors.Is(err, store.ErrNotFound):
		s.fail(w, r, u, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, review.ErrSameReviewer), errors.Is(err, review.ErrNotPending):
		s.setFlash(w, r, err.Error(), true)
	default:
		s.failErr(w, r, u, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
