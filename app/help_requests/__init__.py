"""Help requests (求助): a villager asks, their village's coordinators answer, on deadlines."""
