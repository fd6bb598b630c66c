"""The duty lead's lists: overdue 容缺 deadlines, 差评 follow-ups due, cases past their promised date."""
