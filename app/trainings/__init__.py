"""Trainings: courses, enrolment with a waiting list, attendance, QR check-in, completion."""
