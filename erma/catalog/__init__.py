"""The service catalog (事项目录): the county's items, their materials, search and checklists."""
