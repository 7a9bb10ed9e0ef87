"""What the flood command office asks: hazard, who must move, roads and walking legs, shelters, the plan."""
